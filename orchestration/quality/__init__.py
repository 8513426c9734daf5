"""Great Expectations: the landing gate before load and the mart checks after the build."""
