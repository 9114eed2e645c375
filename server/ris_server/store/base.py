"""The async repository interface every store implements.

Every method that reads or changes tenant data takes the tenant code and
never returns another tenant's records. Methods named `*_any_tenant` are for
the hub's own machinery (the agent stream, the dispatcher) and superadmin
paths only.
"""

import enum
from typing import Protocol

from ris_server.keyring import DataKeyRecord, Keyring
from ris_server.models import (
    CertificateRecord,
    Client,
    EnrollmentToken,
    RefreshToken,
    Session,
    Task,
    Tenant,
    User,
)


class TaskOutcome(enum.Enum):
    """Outcome of storing a reported result."""

    APPLIED = "applied"
    STALE = "stale"  # an older attempt, or the task already finished
    UNKNOWN = "unknown"


class Repository(Protocol):
    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    # Encryption at rest: wrapped data keys and the encrypted columns.
    def use_keyring(self, keyring: Keyring | None, *, encrypt: bool) -> None:
        """Decrypt stored envelopes with `keyring`, and encrypt new values if asked.

        With `encrypt`, each write that encrypts first stores a new data key
        for the tenant when its newest one is older than the rotation period.
        """
        ...

    async def list_data_keys(self) -> list[DataKeyRecord]: ...

    async def save_data_key(self, record: DataKeyRecord) -> None: ...

    async def replace_wrapped_keys(self, records: list[DataKeyRecord]) -> None:
        """Store rewrapped data keys in one transaction; all keys must be given."""
        ...

    async def reencrypt(
        self, *, new_keys: bool = False, batch_size: int = 200
    ) -> dict[str, int]:
        """Rewrite encrypted columns under each tenant's newest data key."""
        ...

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

    async def list_users(
        self, tenant_code: str, offset: int, limit: int
    ) -> tuple[list[User], int]:
        """Return one page of a tenant's users by email, and their total."""
        ...

    async def update_user(self, user: User) -> None:
        """Store the role, password hash and disabled state of `user`."""
        ...

    async def delete_user(self, user_id: str) -> bool:
        """Remove a user and their refresh tokens; False when none existed."""
        ...

    async def revoke_user_refresh_tokens(self, user_id: str, now: float) -> int:
        """Revoke every refresh token of a user; return how many were live."""
        ...

    async def count_active_users(self, tenant_code: str, role: int) -> int:
        """Count the tenant's enabled users whose role is `role` or higher."""
        ...

    async def save_refresh_token(self, token: RefreshToken) -> None: ...

    async def use_refresh_token(self, jti: str, now: float) -> RefreshToken | None:
        """Mark a refresh token used and return its state before the call.

        Returns None for an unknown jti. The caller checks `used_at` and
        `revoked_at` of the returned record to detect reuse.
        """
        ...

    async def revoke_refresh_family(self, family_id: str, now: float) -> int: ...

    async def upsert_directory_user(
        self, tenant_code: str, username: str, role: int, now: float
    ) -> User | None:
        """Create or update the `external` record of a directory user.

        The record has no password hash, keeps its id across logins, and its
        role is set to `role`. Returns None, changing nothing, when a local
        user has the name.
        """
        ...

    # Sessions: one per login, named by its refresh-token family id.
    async def create_session(self, session: Session, max_active: int) -> list[Session]:
        """Insert a session and revoke the user's oldest beyond `max_active`.

        Active sessions are those not revoked and not expired at
        `session.created_at`. Both steps run in one transaction. Returns the
        sessions revoked, whose refresh tokens are revoked too.
        """
        ...

    async def get_session(self, session_id: str) -> Session | None: ...

    async def extend_session(self, session_id: str, expires_at: float) -> None:
        """Set the expiry of a session to that of its newest refresh token."""
        ...

    async def revoke_session(self, session_id: str, now: float, reason: str) -> bool:
        """Revoke a session and its refresh tokens.

        Returns True when this call revoked the session or any of its tokens,
        False when both were revoked already or are unknown.
        """
        ...

    async def revoke_user_sessions(
        self, user_id: str, now: float, reason: str, keep: str = ""
    ) -> list[str]:
        """Revoke every active session and refresh token of a user.

        The session whose id is `keep`, and its refresh tokens, stay active.
        Returns the ids of the sessions this call revoked.
        """
        ...

    async def revoked_sessions(self, since: float) -> list[tuple[str, float]]:
        """Return (session id, revoked_at) of sessions revoked at `since` or later."""
        ...

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
        self,
        serial: str,
        unique_client_id: str,
        tenant_code: str,
        not_after: float,
        issued_at: float | None = None,
        replaces: str = "",
    ) -> None: ...

    async def record_renewal(
        self,
        serial: str,
        not_after: float,
        issued_at: float,
        replaces: str,
        retire_reason: str,
        supersede_reason: str,
    ) -> list[tuple[str, str]] | None:
        """Record certificate `serial`, renewed from `replaces`, for its client.

        In one transaction: retires what `replaces` renewed, as
        mark_certificate_used does, with `retire_reason`; revokes every unused
        renewal of `replaces` with `supersede_reason`; inserts the record.
        Returns the (serial, reason) pairs revoked, or None (changing
        nothing) when `replaces` is unknown or revoked.
        """
        ...

    async def get_certificate(self, serial: str) -> CertificateRecord | None: ...

    async def list_client_certificates(
        self, unique_client_id: str
    ) -> list[CertificateRecord]:
        """Return a client's certificates, newest issue first."""
        ...

    async def is_certificate_revoked(self, serial: str) -> bool: ...

    async def revoke_client_certificates(
        self, unique_client_id: str, now: float, reason: str = "", serial: str = ""
    ) -> list[str]:
        """Revoke a client's unrevoked certificates, or only `serial` of them.

        Returns the serials this call revoked.
        """
        ...

    async def revoked_serials(self, now: float) -> list[str]:
        """Return the serials of revoked certificates that expire after `now`."""
        ...

    async def mark_certificate_used(
        self, serial: str, now: float, reason: str = ""
    ) -> list[str] | None:
        """Record a stream opened with a certificate; retire what it renewed.

        In one transaction: sets first_used_at unless set, then revokes with
        `reason` the certificate that `serial` renewed and that one's other
        renewals. Returns the serials revoked now, or None (changing nothing)
        when `serial` is unknown or revoked.
        """
        ...

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

    async def tenant_storage_bytes(self, tenant_code: str) -> int:
        """Return the bytes a tenant's tasks hold: payloads, results, progress."""
        ...

    async def delete_finished_tasks(self, before: float, limit: int) -> int:
        """Delete up to `limit` tasks that ended before `before`; return how many."""
        ...
