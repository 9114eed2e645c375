"""Benchmark harness of the RIS hub: simulated agents, callers and peers.

Run `python -m bench --help`; docs/benchmarks.md lists the scenarios and
the recorded figures.
"""
