"""Token buckets for request rate limits, kept in this process's memory.

A bucket contains at most `capacity` tokens and gains `rate` tokens per second.
A request takes one token from each bucket it is charged to, and only when
every one of them has a token, so a rejected request costs nothing.
`RedisBuckets` in ratelimit_redis.py keeps the same buckets in Redis.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# Buckets kept at most by one InMemoryBuckets. A full bucket behaves like a
# missing one, so evicting the least recently used bucket at worst refills a
# bucket early. 100 000 buckets took 24 MB with IPv4 address keys and 34 MB
# with principal keys of 50 characters (tracemalloc, CPython 3.11).
DEFAULT_MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class Decision:
    """The outcome of one request against its buckets."""

    allowed: bool
    # Seconds until every bucket of the request has a token again; 0 when allowed.
    retry_after: float = 0.0
    # The first bucket key that had no token, when rejected.
    limited_key: str | None = None


ALLOWED = Decision(True)


class Buckets(Protocol):
    """A store of token buckets that decides requests."""

    async def take(self, keys: Sequence[str]) -> Decision:
        """Take one token from each bucket in `keys`, or none if one is empty."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class BucketSpec:
    """Size and refill speed shared by every bucket of one limiter."""

    capacity: int
    rate: float  # tokens per second

    @classmethod
    def per_minute(cls, requests_per_minute: int, burst_size: int) -> "BucketSpec":
        if requests_per_minute < 1 or burst_size < 1:
            raise ValueError(
                "requests_per_minute and burst_size must be at least 1, got "
                f"{requests_per_minute} and {burst_size}"
            )
        return cls(capacity=burst_size, rate=requests_per_minute / 60.0)

    @property
    def refill_seconds(self) -> float:
        """Seconds an empty bucket takes to become full; then it can be dropped."""
        return self.capacity / self.rate

    def refill(self, tokens: float, elapsed: float) -> float:
        """Return the tokens of a bucket `elapsed` seconds after it held `tokens`."""
        return min(float(self.capacity), tokens + max(0.0, elapsed) * self.rate)

    def wait_for_token(self, tokens: float) -> float:
        """Return the seconds until a bucket holding `tokens` has a whole token."""
        return max(0.0, (1.0 - tokens) / self.rate)


class InMemoryBuckets:
    """Token buckets of one process, bounded in number.

    A bucket untouched for `spec.refill_seconds` is full again and is dropped.
    When `max_buckets` are held, a new key evicts the least recently used one.
    `clock` returns monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        spec: BucketSpec,
        *,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_buckets < 1:
            raise ValueError(f"max_buckets must be at least 1, got {max_buckets}")
        self.spec = spec
        self._max_buckets = max_buckets
        self._clock = clock
        # key -> (tokens, time of the last update), least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: str) -> bool:
        return key in self._buckets

    def decide(self, keys: Sequence[str]) -> Decision:
        """Take one token from each bucket in `keys`, or none if one is empty."""
        now = self._clock()
        self._expire(now)
        spec = self.spec
        levels: list[float] = []
        wait = 0.0
        limited_key = None
        for key in keys:
            state = self._buckets.get(key)
            tokens = float(spec.capacity)
            if state is not None:
                tokens = spec.refill(state[0], now - state[1])
            levels.append(tokens)
            if tokens < 1.0:
                wait = max(wait, spec.wait_for_token(tokens))
                limited_key = limited_key or key
        if limited_key is not None:
            return Decision(False, wait, limited_key)
        for key, tokens in zip(keys, levels, strict=True):
            self._buckets[key] = (tokens - 1.0, now)
            self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_buckets:
            self._buckets.popitem(last=False)
        return ALLOWED

    async def take(self, keys: Sequence[str]) -> Decision:
        return self.decide(keys)

    async def close(self) -> None:
        self._buckets.clear()

    def _expire(self, now: float) -> None:
        # The dict is ordered by last update, so expired buckets sit in front.
        idle_limit = self.spec.refill_seconds
        while self._buckets:
            key, (_tokens, updated) = next(iter(self._buckets.items()))
            if now - updated < idle_limit:
                break
            del self._buckets[key]


def whole_seconds(retry_after: float) -> int:
    """Round a wait up to whole seconds, at least 1, for a Retry-After value."""
    return max(1, math.ceil(retry_after - 1e-9))
