"""Parse the duration strings of the configuration file ("30s", "1h30m")."""

import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: str | int | float) -> float:
    """Return a duration in seconds.

    Accepts a number of seconds or a string of number-unit parts such as
    "300s", "1h30m" or "250ms". Raises ValueError for anything else, including
    negative values.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: expected e.g. '30s' or '5m'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"invalid duration {value!r}: must not be negative")
        return float(value)
    text = value.strip()
    position = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ValueError(
            f"invalid duration {value!r}: expected number-unit parts such as "
            "'30s', '5m', '1h30m' (units ms, s, m, h, d)"
        )
    return total


def format_duration(seconds: float) -> str:
    """Format seconds as "2h30m15s", the form of the health report's uptime."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
