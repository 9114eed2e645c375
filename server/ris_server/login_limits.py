"""Failed-login limiting per (tenant, username) over a sliding minute.

Each login attempt is counted before its password is checked, and a
successful login clears the count. So at most `limit` passwords are checked
for one name in any 60 seconds, concurrent attempts included. The limiter
does not know whether a user exists, so an unknown name is limited exactly
like a known one.

Pure logic: the caller passes the time, so tests need no clock.
"""

from collections import OrderedDict, deque

WINDOW = 60.0
"""Length of the sliding window, in seconds."""

DEFAULT_MAX_KEYS = 100_000
"""Names tracked at once; the least recently failed name is dropped beyond it."""


def limit_key(tenant_code: str, username: str) -> tuple[str, str]:
    """Return the counter key of a login.

    Names are case-folded because a directory matches them without case, so
    "Admin" and "admin" share one counter. Both parts are truncated to bound
    the memory a long name costs.
    """
    return tenant_code[:128], username.casefold()[:256]


class LoginFailureLimiter:
    """Counts login attempts per key and rejects a key over its limit.

    Memory is bounded: each key keeps at most `limit` attempt times, at most
    `max_keys` keys are kept, and keys whose attempts are all older than the
    window are dropped as new attempts arrive.
    """

    def __init__(self, limit: int, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self.limit = limit
        self.max_keys = max_keys
        # Least recently attempted key first, so pruning and eviction start
        # at the front.
        self._attempts: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._attempts)

    def start_attempt(self, key: tuple[str, str], now: float) -> float | None:
        """Count an attempt for `key`, or return the seconds until one is allowed.

        Returns None when the attempt may go ahead; it is then counted as a
        failure until finish_success() or cancel_attempt() is called.
        """
        self._prune(now)
        attempts = self._attempts.get(key)
        if attempts is not None:
            while attempts and attempts[0] <= now - WINDOW:
                attempts.popleft()
            if len(attempts) >= self.limit:
                return max(attempts[0] + WINDOW - now, 0.0)
            self._attempts.move_to_end(key)
        else:
            # NOTE: when more than max_keys names fail within one minute, the
            # least recently tried name is forgotten and its count restarts.
            while len(self._attempts) >= self.max_keys:
                self._attempts.popitem(last=False)
            attempts = deque(maxlen=self.limit)
            self._attempts[key] = attempts
        attempts.append(now)
        return None

    def cancel_attempt(self, key: tuple[str, str], started: float) -> None:
        """Uncount an attempt that checked no password, such as a directory outage."""
        attempts = self._attempts.get(key)
        if attempts is None:
            return
        try:
            attempts.remove(started)
        except ValueError:
            return
        if not attempts:
            del self._attempts[key]

    def finish_success(self, key: tuple[str, str]) -> None:
        """Clear the count of a key after a successful login."""
        self._attempts.pop(key, None)

    def failures(self, key: tuple[str, str], now: float) -> int:
        """Return the attempts of `key` counted within the window ending at `now`."""
        attempts = self._attempts.get(key, ())
        return sum(1 for started in attempts if started > now - WINDOW)

    def _prune(self, now: float) -> None:
        """Drop keys, least recent first, whose newest attempt left the window."""
        while self._attempts:
            key, attempts = next(iter(self._attempts.items()))
            if attempts and attempts[-1] > now - WINDOW:
                return
            del self._attempts[key]
