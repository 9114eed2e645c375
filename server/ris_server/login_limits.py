"""Failed-login limits over a sliding minute.

Two counters apply to each login: one per (tenant, username, client address)
with the configured limit, and one per (tenant, username) over all addresses
with NAME_CAP_FACTOR times that limit. A flood of wrong passwords from one
address therefore blocks that address only, while many addresses together
still cannot try more than the cap for one name.

Each login attempt is counted before its password is checked, and a
successful login clears the counts of its name. The limiter does not know
whether a user exists, so an unknown name is limited exactly like a known
one.

Pure logic: the caller passes the time, so tests need no clock.
"""

from collections import OrderedDict, deque
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

WINDOW = 60.0
"""Length of the sliding window, in seconds."""

DEFAULT_MAX_KEYS = 100_000
"""Keys tracked at once; the least recently failed key is dropped beyond it."""

NAME_CAP_FACTOR = 10
"""The cap per (tenant, username) over all addresses, as a multiple of the
limit per address."""


def limit_key(tenant_code: str, username: str) -> tuple[str, str]:
    """Return the counter key of a login.

    Names are case-folded because a directory matches them without case, so
    "Admin" and "admin" share one counter. Both parts are truncated to bound
    the memory a long name costs.
    """
    return tenant_code[:128], username.casefold()[:256]


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One login attempt: the keys of its two counters and when it started."""

    name_key: tuple[str, ...]
    address_key: tuple[str, str, str]
    started: float

    @classmethod
    def of(
        cls,
        tenant_code: str,
        username: str,
        address: IPv4Address | IPv6Address | None,
        started: float,
    ) -> "LoginAttempt":
        """Build the attempt of a login; a caller with no IP address shares
        the counter of the address ''."""
        name_key = limit_key(tenant_code, username)
        address_text = "" if address is None else str(address)
        return cls(name_key, (*name_key, address_text), started)


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
        self._attempts: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._attempts)

    def start_attempt(self, key: tuple[str, ...], now: float) -> float | None:
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

    def cancel_attempt(self, key: tuple[str, ...], started: float) -> None:
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

    def finish_success(self, key: tuple[str, ...]) -> None:
        """Clear the count of a key after a successful login."""
        self._attempts.pop(key, None)

    def failures(self, key: tuple[str, ...], now: float) -> int:
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


class LoginLimits:
    """The per-address limit and the per-name cap of failed logins.

    Each of the two counters keeps at most `max_keys` attempt times in all,
    so the memory bound is that of one LoginFailureLimiter with `max_keys`
    keys, twice over.
    """

    def __init__(self, limit: int, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.by_address = LoginFailureLimiter(limit, max_keys=max_keys)
        # Each name key keeps up to NAME_CAP_FACTOR times as many attempt
        # times, so it gets that many times fewer keys.
        self.by_name = LoginFailureLimiter(
            limit * NAME_CAP_FACTOR, max_keys=max(1, max_keys // NAME_CAP_FACTOR)
        )

    @property
    def limit(self) -> int:
        """Failed logins allowed per address and name within the window."""
        return self.by_address.limit

    @property
    def name_cap(self) -> int:
        """Failed logins allowed per name over all addresses within the window."""
        return self.by_name.limit

    def start_attempt(self, attempt: LoginAttempt) -> float | None:
        """Count `attempt`, or return the seconds until one is allowed.

        An attempt rejected by either counter is counted by neither.
        """
        wait = self.by_address.start_attempt(attempt.address_key, attempt.started)
        if wait is not None:
            return wait
        wait = self.by_name.start_attempt(attempt.name_key, attempt.started)
        if wait is not None:
            self.by_address.cancel_attempt(attempt.address_key, attempt.started)
        return wait

    def cancel_attempt(self, attempt: LoginAttempt) -> None:
        """Uncount an attempt that checked no password."""
        self.by_address.cancel_attempt(attempt.address_key, attempt.started)
        self.by_name.cancel_attempt(attempt.name_key, attempt.started)

    def finish_success(self, attempt: LoginAttempt) -> None:
        """Clear the counts of the name and address after a successful login."""
        self.by_address.finish_success(attempt.address_key)
        self.by_name.finish_success(attempt.name_key)

    def failures(self, attempt: LoginAttempt, now: float) -> tuple[int, int]:
        """Return the failures counted for the attempt's address and its name."""
        return (
            self.by_address.failures(attempt.address_key, now),
            self.by_name.failures(attempt.name_key, now),
        )
