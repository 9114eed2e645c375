"""Domain records as the stores keep them.

Times are float seconds since the Unix epoch (UTC) unless a field states
otherwise. Task payloads and results are kept as serialized protobuf bytes so
that the stores never interpret them.
"""

from dataclasses import dataclass, field


@dataclass(slots=True)
class Tenant:
    id: str
    code: str
    name: str
    description: str = ""
    status: int = 1
    limits: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    database_info: dict = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(slots=True)
class User:
    id: str
    tenant_code: str
    email: str
    password_hash: str
    role: int
    created_at: float = 0.0
    disabled: bool = False
    # Directory (LDAP) accounts have no local password hash.
    external: bool = False


@dataclass(slots=True)
class Client:
    id: int
    unique_client_id: str
    tenant_code: str
    name: str
    description: str = ""
    host: str = ""
    status: int = 1
    connected: bool = False
    version: str = ""
    capabilities: list[str] = field(default_factory=list)
    ip_address: str = ""
    resource_usage: dict = field(default_factory=dict)
    max_concurrent_tasks: int = 0
    created_ms: int = 0
    updated_ms: int = 0
    last_seen: float | None = None


@dataclass(slots=True)
class EnrollmentToken:
    token_hash: str
    client_uid: str
    tenant_code: str
    expires_at: float
    used_at: float | None = None


@dataclass(slots=True)
class CertificateRecord:
    """A client certificate the hub issued; serials are lower-case hex."""

    serial: str
    client_uid: str
    tenant_code: str
    not_after: float
    revoked_at: float | None = None
    issued_at: float | None = None
    first_used_at: float | None = None
    # Serial of the certificate whose holder renewed into this one.
    replaces: str = ""
    revocation_reason: str = ""


@dataclass(slots=True)
class Task:
    task_id: str
    tenant_code: str
    client_uid: str
    user_id: str
    type: int
    status: int
    priority: int
    spec: bytes
    timeout: int
    max_attempts: int
    attempt: int = 0
    result: bytes | None = None
    progress: bytes | None = None
    error: str = ""
    created_at: float = 0.0
    started_at: float | None = None
    completed_at: float | None = None
    dead_lettered: bool = False
    cancel_requested: bool = False
    seq: int = 0
    available_at: float = 0.0
    retry_on_failure: bool = False


@dataclass(slots=True)
class RefreshToken:
    jti: str
    family_id: str
    user_id: str
    tenant_code: str
    expires_at: float
    used_at: float | None = None
    revoked_at: float | None = None


@dataclass(slots=True)
class Session:
    """One login: the family of refresh tokens it issued, under one id.

    `expires_at` is the expiry of the session's newest refresh token. A
    session is active until then unless `revoked_at` is set.
    """

    id: str
    user_id: str
    tenant_code: str
    created_at: float
    expires_at: float
    revoked_at: float | None = None
    revoke_reason: str = ""
