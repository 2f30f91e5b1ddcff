"""`make bench`: the benchmark harness (see bench/__main__.py); not part of `make test`."""
