"""Token buckets kept in Redis, so that several hub replicas share one budget.

Each decision is one Lua script, which Redis runs atomically: it refills the
request's buckets from Redis's own clock, and takes a token from each only
when all have one. A bucket is a hash with the fields `tokens` and `ts` and
expires once it would be full again.

All keys of one decision go to one script, so a Redis Cluster, which needs
the keys of a script in one hash slot, is not supported. The script writes
after calling TIME, which needs Redis 5.0 or later, where scripts replicate
their effects by default. Tested with Redis 7.0.
"""

import logging
import math
import time
from collections.abc import Sequence

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from ris_server import metrics
from ris_server.ratelimit import ALLOWED, BucketSpec, Decision

log = logging.getLogger(__name__)

# Returns {1} when allowed, or {0, wait_seconds, index_of_the_empty_bucket}.
# Floats go back as strings because Redis turns Lua numbers into integers.
TAKE_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local ttl_ms = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local levels = {}
local wait = 0
local limited = 0
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local updated = tonumber(state[2])
  if tokens == nil or updated == nil then
    tokens = capacity
  else
    tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
  end
  levels[i] = tokens
  if tokens < 1 then
    wait = math.max(wait, (1 - tokens) / rate)
    if limited == 0 then limited = i end
  end
end
if limited > 0 then
  return {0, tostring(wait), limited}
end
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'tokens', tostring(levels[i] - 1), 'ts', tostring(now))
  redis.call('PEXPIRE', key, ttl_ms)
end
return {1}
"""

# Seconds to wait for Redis before a request goes through unlimited.
DEFAULT_TIMEOUT = 0.5
# Seconds between two warnings about an unreachable Redis.
WARNING_INTERVAL = 60.0


class RedisBuckets:
    """Token buckets in Redis under `prefix`, failing open.

    When Redis does not respond within `timeout` seconds or returns an error,
    the request is allowed, `ris_rate_limit_backend_errors` counts it and one
    warning per WARNING_INTERVAL is logged with the number of errors since.
    """

    def __init__(
        self,
        client: redis_asyncio.Redis,
        spec: BucketSpec,
        prefix: str,
    ) -> None:
        self.spec = spec
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(TAKE_SCRIPT)
        # A little past the refill time, so a bucket never expires while partly
        # empty.
        self._ttl_ms = math.ceil(spec.refill_seconds * 1000) + 1000
        self._last_warning = -math.inf
        self._errors_since_warning = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        spec: BucketSpec,
        prefix: str,
        *,
        password: str = "",
        database: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> "RedisBuckets":
        """Create a client of the Redis at `url`, which connects on the first call.

        `password` and `database` override those in the URL when set.
        """
        options: dict = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
        if password:
            options["password"] = password
        if database:
            options["db"] = database
        client = redis_asyncio.Redis.from_url(url, **options)
        return cls(client, spec, prefix)

    async def take(self, keys: Sequence[str]) -> Decision:
        full_keys = [self._prefix + key for key in keys]
        spec = self.spec
        try:
            reply = await self._script(
                keys=full_keys, args=[spec.capacity, repr(spec.rate), self._ttl_ms]
            )
        except (RedisError, OSError, TimeoutError) as error:
            self._fail_open(error)
            return ALLOWED
        if int(reply[0]) == 1:
            return ALLOWED
        wait = float(reply[1])
        limited_key = keys[int(reply[2]) - 1]
        return Decision(False, wait, limited_key)

    async def close(self) -> None:
        await self._client.aclose()

    def _fail_open(self, error: Exception) -> None:
        metrics.RATE_LIMIT_BACKEND_ERRORS.inc()
        self._errors_since_warning += 1
        now = time.monotonic()
        if now - self._last_warning < WARNING_INTERVAL:
            return
        log.warning(
            "rate limit store Redis failed (%s: %s); %d requests allowed without "
            "a limit since the last warning",
            type(error).__name__,
            error,
            self._errors_since_warning,
        )
        self._last_warning = now
        self._errors_since_warning = 0
