"""Tools around the product: the sample-shop generator and the benchmark."""
