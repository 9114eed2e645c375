"""Byte sizes written as "100MB", "512KiB" or a plain number of bytes."""

import re

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"^\s*(\d{1,15})\s*([a-zA-Z]{0,3})\s*$")


def parse_size(value: object) -> int:
    """Return a size in bytes; raise ValueError naming the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("a size must be a number of bytes or a string like '100MB'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size must not be negative")
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match and match.group(2).lower() in _UNITS:
            return int(match.group(1)) * _UNITS[match.group(2).lower()]
    raise ValueError(
        "a size must be a number of bytes or a string like '100MB' "
        "(units B, KB, MB, GB, KiB, MiB, GiB)"
    )
