"""Reconnect delays: capped exponential backoff with full jitter.

Pure logic without I/O, so tests can drive it with a seeded ``random.Random``.
"""

import random
from dataclasses import dataclass

# 2**64 times any sane initial delay is far above any max_delay, and a larger
# exponent could overflow the float multiplication.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class ReconnectPolicy:
    """Reconnect settings from the hub's ClientConfig, with delays in seconds."""

    max_attempts: int = 0
    """Reconnect attempts since the last registration before the agent gives up.

    0 means the agent never gives up.
    """
    initial_delay: float = 1.0
    max_delay: float = 60.0
    backoff_strategy: str = "exponential"

    def normalized(self) -> "ReconnectPolicy":
        """Return a copy with defaults for unset or inconsistent values.

        A hub sends 0 for fields it leaves unset, so initial_delay <= 0 becomes 1 s,
        max_delay <= 0 becomes 60 s (or initial_delay if larger), a max_delay below
        initial_delay becomes initial_delay and a negative max_attempts becomes 0.
        """
        initial = self.initial_delay if self.initial_delay > 0 else 1.0
        if self.max_delay <= 0:
            maximum = max(60.0, initial)
        else:
            maximum = max(self.max_delay, initial)
        return ReconnectPolicy(
            max_attempts=max(self.max_attempts, 0),
            initial_delay=initial,
            max_delay=maximum,
            backoff_strategy=self.backoff_strategy or "exponential",
        )


def backoff_ceiling(attempt: int, initial_delay: float, max_delay: float) -> float:
    """Return min(max_delay, initial_delay * 2**attempt) for a 0-based attempt."""
    exponent = min(max(attempt, 0), _MAX_EXPONENT)
    return min(max_delay, initial_delay * 2.0**exponent)


def full_jitter_delay(
    attempt: int, initial_delay: float, max_delay: float, rng: random.Random
) -> float:
    """Draw a delay uniformly from 0 to the backoff ceiling of the attempt.

    Full jitter spreads the reconnects of many agents that lost the same hub.
    """
    return rng.uniform(0.0, backoff_ceiling(attempt, initial_delay, max_delay))


class Backoff:
    """Counter of reconnect attempts that yields the delay before each one."""

    def __init__(self, policy: ReconnectPolicy, rng: random.Random | None = None):
        self._policy = policy.normalized()
        self._rng = rng or random.Random()
        self._attempts = 0

    @property
    def policy(self) -> ReconnectPolicy:
        return self._policy

    @property
    def attempts(self) -> int:
        """Reconnect attempts since the last reset."""
        return self._attempts

    def exhausted(self) -> bool:
        """Return whether max_attempts reconnect attempts were made since the reset."""
        limit = self._policy.max_attempts
        return limit > 0 and self._attempts >= limit

    def next_delay(self) -> float:
        """Count one more reconnect attempt and return the delay before it."""
        delay = full_jitter_delay(
            self._attempts,
            self._policy.initial_delay,
            self._policy.max_delay,
            self._rng,
        )
        self._attempts += 1
        return delay

    def reset(self) -> None:
        """Start over from initial_delay, after a successful registration."""
        self._attempts = 0
