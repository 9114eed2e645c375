"""Tenant quotas on stored task bytes and on task traffic, and task history.

A tenant's `limits.max_storage_gb` caps the bytes its tasks hold in the store
(payloads, results, progress and errors). The usage is measured by the store
and cached for STORAGE_TTL seconds, so a submit costs no scan in between.
`limits.max_bandwidth_mbs` caps the task traffic through the hub. A submit
takes its payload's bytes from a per-tenant budget that refills at that
rate. A result's bytes are taken too, even into debt, so a tenant whose
agents return large results waits before its next submit. Finished tasks are
deleted after `task_orchestration.history_retention`, which frees storage.
"""

import logging
import time
from dataclasses import dataclass

from ris_server.errors import ResourceExhausted
from ris_server.store.base import Repository

log = logging.getLogger(__name__)

STORAGE_TTL = 30.0
GB = 1_000_000_000
MB = 1_000_000
# Tasks deleted per batch, and batches per watchdog round, when history ages out.
PURGE_BATCH = 1000
PURGE_BATCHES = 10


@dataclass(slots=True)
class _Budget:
    tokens: float
    updated: float


class BandwidthBudgets:
    """Per-tenant byte budgets that refill at the tenant's MB per second.

    A budget contains at most one second of traffic. Pure logic: the caller
    passes the clock.
    """

    def __init__(self, max_tenants: int = 100_000) -> None:
        self._budgets: dict[str, _Budget] = {}
        self._max_tenants = max_tenants

    def _budget(self, tenant: str, rate: float, now: float) -> _Budget:
        budget = self._budgets.get(tenant)
        if budget is None:
            if len(self._budgets) >= self._max_tenants:
                self._budgets.pop(next(iter(self._budgets)))
            budget = self._budgets[tenant] = _Budget(rate, now)
        budget.tokens = min(rate, budget.tokens + (now - budget.updated) * rate)
        budget.updated = now
        return budget

    def take(self, tenant: str, size: int, rate: float, now: float) -> float:
        """Take `size` bytes; return 0, or the seconds to wait when short."""
        budget = self._budget(tenant, rate, now)
        needed = min(size, rate)
        if budget.tokens < needed:
            return (needed - budget.tokens) / rate
        budget.tokens -= size
        return 0.0

    def charge(self, tenant: str, size: int, rate: float, now: float) -> None:
        """Take `size` bytes even past zero; later takes wait for the debt."""
        self._budget(tenant, rate, now).tokens -= size


class TenantQuotas:
    """Checks a submit against its tenant's storage and bandwidth quotas."""

    def __init__(self, store: Repository, clock=time.monotonic) -> None:
        self._store = store
        self._clock = clock
        self._usage: dict[str, tuple[float, int]] = {}
        self._limits: dict[str, dict] = {}
        self.bandwidth = BandwidthBudgets()

    async def storage_used(self, tenant: str) -> int:
        now = self._clock()
        cached = self._usage.get(tenant)
        if cached is not None and now - cached[0] < STORAGE_TTL:
            return cached[1]
        used = await self._store.tenant_storage_bytes(tenant)
        self._usage[tenant] = (now, used)
        return used

    async def check_submit(self, tenant: str, limits: dict, payload_size: int) -> None:
        """Raise ResourceExhausted when the submit would exceed a quota."""
        self._limits[tenant] = limits
        storage_gb = limits.get("max_storage_gb", 0)
        if storage_gb:
            used = await self.storage_used(tenant)
            if used + payload_size > storage_gb * GB:
                log.info("tenant %s over its storage quota: %d bytes", tenant, used)
                raise ResourceExhausted(
                    f"tenant {tenant!r} uses {used} bytes of its {storage_gb} GB "
                    "storage quota; finished tasks are deleted after "
                    "task_orchestration.history_retention",
                    retry_after=STORAGE_TTL,
                )
            cached = self._usage[tenant]
            self._usage[tenant] = (cached[0], cached[1] + payload_size)
        bandwidth = limits.get("max_bandwidth_mbs", 0)
        if bandwidth:
            wait = self.bandwidth.take(
                tenant, payload_size, bandwidth * MB, self._clock()
            )
            if wait:
                log.info("tenant %s over its bandwidth quota", tenant)
                raise ResourceExhausted(
                    f"tenant {tenant!r} is over its bandwidth quota of "
                    f"{bandwidth} MB/s; retry later",
                    retry_after=wait,
                )

    def record_result(self, tenant: str, result_size: int) -> None:
        """Count a reported result against the tenant's storage and bandwidth.

        The limits are those the tenant's last submit was checked against.
        """
        cached = self._usage.get(tenant)
        if cached is not None:
            self._usage[tenant] = (cached[0], cached[1] + result_size)
        bandwidth = self._limits.get(tenant, {}).get("max_bandwidth_mbs", 0)
        if bandwidth:
            self.bandwidth.charge(tenant, result_size, bandwidth * MB, self._clock())


async def purge_history(store: Repository, retention: float, now: float) -> int:
    """Delete tasks that ended more than `retention` seconds ago, in batches."""
    if retention <= 0:
        return 0
    deleted = 0
    for _ in range(PURGE_BATCHES):
        count = await store.delete_finished_tasks(now - retention, PURGE_BATCH)
        deleted += count
        if count < PURGE_BATCH:
            break
    if deleted:
        log.info("deleted %d finished tasks older than the history retention", deleted)
    return deleted
