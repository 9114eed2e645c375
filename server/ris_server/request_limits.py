"""Rate limits of API calls: which buckets a call is charged to, and logging.

A call is charged to the bucket of its client address, unless the address is
in `ip_whitelist`, and, when it carries a valid access token, to the bucket of
its principal (tenant and user id). It goes through only when every bucket
has a token.
"""

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from ris_server import metrics
from ris_server.client_address import (
    IPAddress,
    IPNetwork,
    bucket_address,
    in_networks,
    parse_networks,
)
from ris_server.config import HubConfig
from ris_server.ratelimit import ALLOWED, Buckets, BucketSpec, Decision, InMemoryBuckets
from ris_server.tokens import Principal

log = logging.getLogger(__name__)

ADDRESS_PREFIX = "addr:"
PRINCIPAL_PREFIX = "user:"


def principal_key(principal: Principal) -> str:
    # The tenant's length keeps ("a:b", "c") and ("a", "b:c") apart.
    tenant = principal.tenant_code
    return f"{PRINCIPAL_PREFIX}{len(tenant)}:{tenant}:{principal.user_id}"


def address_key(address: IPAddress) -> str:
    return ADDRESS_PREFIX + bucket_address(address)


def bucket_kind(key: str) -> str:
    """Return the metric label of a bucket key: "address" or "principal"."""
    return "address" if key.startswith(ADDRESS_PREFIX) else "principal"


class LimitLog:
    """Logs a rejected key at most once per `interval` seconds.

    At most `max_lines` keys are logged per interval; the others are counted
    and reported in the next line. Memory is bounded by `max_keys`: the least
    recently logged key is forgotten first.
    """

    def __init__(
        self,
        interval: float = 60.0,
        max_lines: int = 20,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._max_lines = max_lines
        self._max_keys = max_keys
        self._clock = clock
        self._logged: OrderedDict[str, float] = OrderedDict()
        self._window_start = -float("inf")
        self._lines_in_window = 0
        self._unlogged = 0

    def rejected(self, key: str, method: str, decision: Decision) -> None:
        now = self._clock()
        last = self._logged.get(key)
        if last is not None and now - last < self._interval:
            return
        if now - self._window_start >= self._interval:
            self._window_start = now
            self._lines_in_window = 0
        if self._lines_in_window >= self._max_lines:
            self._unlogged += 1
            return
        self._lines_in_window += 1
        self._logged[key] = now
        self._logged.move_to_end(key)
        while len(self._logged) > self._max_keys:
            self._logged.popitem(last=False)
        log.info(
            "rate limit reached for %s on %s; retry in %.1f s (%d other limited "
            "keys not logged; next line for this key in %.0f s at the earliest)",
            key,
            method,
            decision.retry_after,
            self._unlogged,
            self._interval,
        )
        self._unlogged = 0


class RequestLimiter:
    """Decides whether an API call goes through, from its address and caller."""

    def __init__(
        self,
        buckets: Buckets,
        *,
        whitelist: Sequence[IPNetwork] = (),
        limit_log: LimitLog | None = None,
    ) -> None:
        self.buckets = buckets
        self._whitelist = tuple(whitelist)
        self._log = limit_log or LimitLog()

    def keys_for(
        self, address: IPAddress | None, principal: Principal | None
    ) -> list[str]:
        keys = []
        if address is not None and not in_networks(address, self._whitelist):
            keys.append(address_key(address))
        if principal is not None:
            keys.append(principal_key(principal))
        return keys

    async def admit(
        self, method: str, address: IPAddress | None, principal: Principal | None
    ) -> Decision:
        """Take a token for the call from each of its buckets, or reject it."""
        keys = self.keys_for(address, principal)
        if not keys:
            return ALLOWED
        decision = await self.buckets.take(keys)
        if not decision.allowed:
            limited_key = decision.limited_key or keys[0]
            metrics.RATE_LIMITED.labels(bucket=bucket_kind(limited_key)).inc()
            self._log.rejected(limited_key, method, decision)
        return decision

    async def close(self) -> None:
        await self.buckets.close()


def redis_uri(config: HubConfig) -> str:
    """Return the Redis URI of the config (`database.redis.uri`, set by
    REDIS_URI too, or the older `database.redis_uri`), or ""."""
    database = config.database
    return database.redis.uri or database.redis_uri


def build_limiter(config: HubConfig) -> RequestLimiter | None:
    """Return the limiter the config selects, or None when limits are off.

    The buckets live in Redis when a Redis URI is configured, so that hub
    replicas share them, and in this process otherwise.
    """
    settings = config.security.rate_limiting
    if not settings.enabled:
        return None
    spec = BucketSpec.per_minute(settings.requests_per_minute, settings.burst_size)
    uri = redis_uri(config)
    buckets: Buckets
    if uri:
        from ris_server.ratelimit_redis import RedisBuckets

        redis_settings = config.database.redis
        buckets = RedisBuckets.from_url(
            uri,
            spec,
            settings.redis_key_prefix,
            password=redis_settings.password,
            database=redis_settings.database,
        )
        where = "Redis"
    else:
        buckets = InMemoryBuckets(spec)
        where = "this process"
    log.info(
        "rate limits on: %d requests per minute, bursts of %d, buckets in %s",
        settings.requests_per_minute,
        settings.burst_size,
        where,
    )
    return RequestLimiter(buckets, whitelist=parse_networks(settings.ip_whitelist))
