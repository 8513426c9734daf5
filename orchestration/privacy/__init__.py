"""Personal data and consent: erasure on request (``erase``) and the consent rules the Python side
reads (``consent``)."""
