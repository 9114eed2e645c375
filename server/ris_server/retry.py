"""Retry timing: exponential backoff with jitter, as a pure function."""

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a failed attempt may run again.

    `ceiling(n)` after attempt n is initial_delay * 2^(n-1), capped at
    max_delay ("exponential"), or initial_delay ("fixed"). The delay drawn is
    uniform between half the ceiling and the ceiling, so retries of many
    tasks spread out but none comes back at once.
    """

    initial_delay: float
    max_delay: float
    strategy: str = "exponential"

    def ceiling(self, attempt: int) -> float:
        if self.strategy == "fixed":
            return min(self.initial_delay, self.max_delay)
        exponent = min(max(attempt - 1, 0), 62)
        return min(self.max_delay, self.initial_delay * 2**exponent)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before the attempt after `attempt` (from 1)."""
        ceiling = self.ceiling(attempt)
        return rng.uniform(ceiling / 2, ceiling)


def aged_priority(priority: int, waited: float, aging_interval: float) -> int:
    """Priority of a queued task after waiting `waited` seconds.

    Each full aging interval raises it by one level, up to 5, so a task of
    priority 1 competes as priority 5 after four intervals and then goes
    before every newer task.
    """
    if aging_interval <= 0:
        return priority
    return min(5, priority + int(max(waited, 0.0) // aging_interval))
