"""Rate limit for repeated log records, such as one error per failed request."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable


class LogThrottle:
    """Let one record per key through each ``interval`` seconds and count the rest."""

    def __init__(
        self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._last_logged: dict[Hashable, float] = {}
        self._suppressed: dict[Hashable, int] = {}

    def allow(self, key: Hashable) -> int | None:
        """Return None to drop this record, or else the number of records of
        ``key`` dropped since the last one let through."""
        now = self._clock()
        last = self._last_logged.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        self._last_logged[key] = now
        return self._suppressed.pop(key, 0)
