"""The async repository interface every store implements.

Every method that reads or changes tenant data takes the tenant code and
never returns another tenant's records. Methods named `*_any_tenant` are for
the hub's own machinery (the agent stream, the dispatcher) and superadmin
paths only.
"""

import enum
from typing import Protocol

from ris_server.models import Client, EnrollmentToken, RefreshToken, Task, Tenant, User


class TaskOutcome(enum.Enum):
    """Outcome of storing a reported result."""

    APPLIED = "applied"
    STALE = "stale"  # an older attempt, or the task already finished
    UNKNOWN = "unknown"


class Repository(Protocol):
    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    # Tenants.
    async def create_tenant(self, tenant: Tenant) -> None: ...

    async def get_tenant(self, code: str) -> Tenant | None: ...

    async def get_tenant_by_id(self, tenant_id: str) -> Tenant | None: ...

    async def list_tenants(self) -> list[Tenant]: ...

    # Users and refresh tokens.
    async def create_user(self, user: User) -> None: ...

    async def get_user(self, tenant_code: str, email: str) -> User | None: ...

    async def get_user_by_id(self, user_id: str) -> User | None: ...

    async def count_users(self) -> int: ...

    async def save_refresh_token(self, token: RefreshToken) -> None: ...

    async def use_refresh_token(self, jti: str, now: float) -> RefreshToken | None:
        """Mark a refresh token used and return its state before the call.

        Returns None for an unknown jti. The caller checks `used_at` and
        `revoked_at` of the returned record to detect reuse.
        """
        ...

    async def revoke_refresh_family(self, family_id: str, now: float) -> int: ...

    # Clients.
    async def create_client(self, client: Client) -> Client: ...

    async def get_client(self, tenant_code: str, client_id: int) -> Client | None: ...

    async def get_client_by_uid(
        self, tenant_code: str, unique_client_id: str
    ) -> Client | None: ...

    async def list_clients(
        self,
        tenant_code: str,
        offset: int,
        limit: int,
        status: int = 0,
        connected: bool | None = None,
    ) -> tuple[list[Client], int]: ...

    async def count_clients(self, tenant_code: str | None = None) -> int: ...

    async def last_heartbeat(self) -> float | None:
        """Return the newest registration or heartbeat time of any client."""
        ...

    async def update_client(self, client: Client) -> None: ...

    async def delete_client(self, tenant_code: str, client_id: int) -> None: ...

    async def record_connection(
        self,
        unique_client_id: str,
        *,
        connected: bool,
        now: float,
        ip_address: str = "",
        version: str = "",
        capabilities: list[str] | None = None,
        max_concurrent_tasks: int = 0,
    ) -> None: ...

    async def record_heartbeat(
        self, unique_client_id: str, now: float, resource_usage: dict
    ) -> None: ...

    async def mark_all_disconnected(self) -> None: ...

    # Enrollment tokens and certificates.
    async def save_enrollment_token(self, token: EnrollmentToken) -> None: ...

    async def consume_enrollment_token(
        self, token_hash: str, now: float
    ) -> EnrollmentToken | None:
        """Mark an unused, unexpired token used and return it; else None."""
        ...

    async def record_certificate(
        self, serial: str, unique_client_id: str, tenant_code: str, not_after: float
    ) -> None: ...

    async def is_certificate_revoked(self, serial: str) -> bool: ...

    async def revoke_client_certificates(
        self, unique_client_id: str, now: float
    ) -> int: ...

    # Tasks.
    async def insert_task(self, task: Task, max_active: int) -> bool:
        """Persist a new task unless `max_active` tasks are queued or running.

        Returns False, storing nothing, when the limit is reached.
        """
        ...

    async def get_task(self, tenant_code: str, task_id: str) -> Task | None: ...

    async def get_task_any_tenant(self, task_id: str) -> Task | None: ...

    async def list_tasks(
        self,
        tenant_code: str,
        *,
        status: int = 0,
        client_uid: str = "",
        limit: int = 50,
        before_seq: int | None = None,
        dead_lettered: bool | None = None,
    ) -> list[Task]: ...

    async def claim_tasks(
        self, client_uid: str, count: int, now: float, aging_interval: float = 0.0
    ) -> list[Task]:
        """Move up to `count` queued tasks of a client to running.

        Only tasks whose available_at has passed are claimed, highest aged
        priority first (see retry.aged_priority), then oldest. Each claimed
        task's attempt is incremented and its started_at set.
        """
        ...

    async def running_tasks(self, client_uid: str) -> list[Task]: ...

    async def finish_task(
        self,
        task_id: str,
        attempt: int,
        status: int,
        result: bytes | None,
        error: str,
        now: float,
        dead_lettered: bool = False,
    ) -> TaskOutcome:
        """Store the end of an attempt if it is the task's current attempt."""
        ...

    async def requeue_task(
        self, task_id: str, attempt: int, available_at: float = 0.0
    ) -> bool:
        """Queue a running attempt's task again, to be claimed from available_at."""
        ...

    async def expired_queued_tasks(self, now: float, max_wait: float) -> list[Task]:
        """Return pending or queued tasks claimable for more than max_wait.

        The wait counts from submission, or from the end of the retry backoff
        for a task queued again.
        """
        ...

    async def clients_with_queued_tasks(self, now: float) -> list[str]: ...

    async def set_progress(
        self, task_id: str, attempt: int, progress: bytes
    ) -> None: ...

    async def request_cancel(self, tenant_code: str, task_id: str, now: float) -> Task:
        """Cancel a pending or queued task, or flag a running one.

        Returns the task after the change. Raises NotFound or
        FailedPrecondition for a finished task.
        """
        ...

    async def cancel_client_tasks(
        self, client_uid: str, reason: str, now: float
    ) -> list[str]:
        """End every pending, queued or running task of a client as CANCELLED."""
        ...

    async def redrive_task(self, tenant_code: str, task_id: str) -> Task: ...

    async def expired_running_tasks(self, now: float, grace: float) -> list[Task]: ...

    async def task_counts(self, since: float) -> dict[str, int]: ...

    async def count_active_tasks(self, tenant_code: str | None = None) -> int: ...
