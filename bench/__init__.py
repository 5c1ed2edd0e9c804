"""Benchmarks of the product on the local stack (``make bench``; see bench/__main__.py)."""
