"""Benchmark scripts: `python -m benchmarks.NAME`. Each prints its figures beside
reference implementations run in the same process run, then one JSON line."""
