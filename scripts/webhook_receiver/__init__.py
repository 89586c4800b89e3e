"""A webhook receiver on 127.0.0.1 that records every request: for the delivery tests and benchmarks."""
