"""Drivers that run inside the peers' own virtual environments.

They import only the standard library and the peer's package, and print one
JSON object with completed jobs per second and latencies in seconds.
"""
