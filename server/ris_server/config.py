"""Hub configuration: the JSON master config, environment variables and flags.

Precedence, lowest first: built-in defaults, the file named by CONFIG_PATH,
the documented environment variables, then command-line flags. Every value
is validated at start; an error names the key and the bad value.
"""

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from ris_server import tls_policy
from ris_server.ca_files import CaConfigError, check_ca_settings
from ris_server.client_address import parse_network
from ris_server.durations import parse_duration
from ris_server.errors import InvalidArgument
from ris_server.sizes import parse_size
from ris_server.validation import check_tenant_code

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A duration in seconds, written in the file as "30s", "5m", "1h30m" or a number."""

ByteSize = Annotated[int, BeforeValidator(parse_size)]
"""A size in bytes, written in the file as "100MB", "64KiB" or a number."""

DEFAULT_CONFIG_PATH = "/app/config/config.json"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class _OpenSection(BaseModel):
    """A documented section the hub reads only in part; other keys are kept."""

    model_config = ConfigDict(extra="allow", validate_default=True)


class TlsConfig(_Section):
    enabled: bool = True
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""
    ca_key_file: str = ""
    # Only 1.2 and 1.3 pass the start checks, which explain why.
    min_version: Literal["1.0", "1.1", "1.2", "1.3"] = "1.2"
    max_version: Literal["1.0", "1.1", "1.2", "1.3"] = "1.3"
    cipher_suites: list[str] = Field(default_factory=list)
    client_auth: Literal["require", "request", "none"] = "require"
    server_names: list[str] = Field(default_factory=list)


class TimeoutsConfig(_Section):
    read: Duration = 30.0
    write: Duration = 30.0
    idle: Duration = 120.0


class CorsConfig(_Section):
    enabled: bool = False
    allowed_origins: list[str] = Field(default_factory=list)
    allowed_methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "DELETE"]
    )
    allowed_headers: list[str] = Field(
        default_factory=lambda: ["Authorization", "Content-Type"]
    )


class ServerConfig(_Section):
    host: str = "0.0.0.0"
    port: int = Field(default=8057, ge=0, le=65535, description="REST edge port")
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    agent_port: int = Field(default=50052, ge=0, le=65535)
    public_host: str = ""
    data_dir: str = "./data"
    edge_enabled: bool = True
    tls: TlsConfig = Field(default_factory=TlsConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    cors: CorsConfig = Field(default_factory=CorsConfig)


class MongoConfig(_OpenSection):
    uri: str = ""
    database: str = "ris"


class RedisConfig(_OpenSection):
    uri: str = ""
    password: str = ""
    database: int = Field(default=0, ge=0)


class DatabaseConfig(_Section):
    sqlite_path: str = ""
    mongodb: MongoConfig = Field(default_factory=MongoConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    # Older documented spellings of the two URIs.
    mongodb_uri: str = ""
    redis_uri: str = ""


class JwtConfig(_Section):
    secret: str = ""
    expiry: Duration = 86400.0
    refresh_expiry: Duration = 604800.0
    issuer: str = "ris-server"
    audience: str = "ris-api"
    algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    private_key_file: str = ""
    public_key_file: str = ""
    leeway: Duration = 30.0


class SessionConfig(_Section):
    duration: Duration = 28800.0
    renewal_threshold: Duration = 3600.0
    max_concurrent: int = Field(default=5, ge=1)


class LdapConfig(_Section):
    """Directory login: a user found by `user_filter` under `base_dn` binds
    with their own password; `group_filter` finds the groups that grant roles.
    """

    enabled: bool = False
    url: str = ""
    base_dn: str = ""
    bind_dn: str = ""
    bind_password: str = ""
    user_filter: str = "(uid=%s)"
    group_filter: str = "(member=%s)"
    group_base_dn: str = ""
    group_roles: dict[str, Literal["readonly", "operator", "admin", "superadmin"]] = (
        Field(default_factory=dict)
    )
    tenant: str = ""
    start_tls: bool = False
    ca_file: str = ""
    timeout: Duration = 5.0


class AuthenticationConfig(_Section):
    jwt: JwtConfig = Field(default_factory=JwtConfig)
    session: SessionConfig = Field(default_factory=SessionConfig)
    ldap: LdapConfig = Field(default_factory=LdapConfig)


class RbacConfig(_Section):
    enabled: bool = True
    default_role: Literal["readonly", "operator", "admin", "superadmin"] = "readonly"
    admin_users: list[str] = Field(default_factory=list)
    super_admin_users: list[str] = Field(default_factory=list)


class AuthorizationConfig(_Section):
    rbac: RbacConfig = Field(default_factory=RbacConfig)


class MultiTenantConfig(_Section):
    enabled: bool = True
    default_tenant: str = "default"
    tenant_isolation: Literal["database", "shared"] = "shared"
    auto_provision: bool = False


class RetryPolicyConfig(_Section):
    max_attempts: int = Field(default=3, ge=1, le=100)
    backoff_strategy: Literal["exponential", "fixed"] = "exponential"
    initial_delay: Duration = 1.0
    max_delay: Duration = 60.0


class QueueConfig(_Section):
    size: int = Field(default=10000, ge=1)
    priority_levels: Literal[5] = 5
    dead_letter_enabled: bool = True
    aging_interval: Duration = 30.0
    max_wait: Duration = 3600.0


class TaskOrchestrationConfig(_Section):
    max_concurrent_tasks: int = Field(default=1000, ge=1)
    task_timeout: Duration = 300.0
    lease_grace: Duration = 30.0
    lost_agent_grace: Duration = 60.0
    watchdog_interval: Duration = 5.0
    # Finished tasks are deleted this long after they ended; 0 keeps them.
    history_retention: Duration = 30 * 86400.0
    retry_policy: RetryPolicyConfig = Field(default_factory=RetryPolicyConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)


class ReconnectionPolicyConfig(_Section):
    max_attempts: int = Field(default=0, ge=0)
    backoff_strategy: Literal["exponential", "fixed"] = "exponential"
    initial_delay: Duration = 5.0
    max_delay: Duration = 300.0


class ClientManagementConfig(_Section):
    max_clients: int = Field(default=1000, ge=1)
    heartbeat_interval: Duration = 30.0
    connection_timeout: Duration = 60.0
    # Fractions of a day are allowed so tests can watch a renewal; 0.0001
    # days is 8.64 seconds.
    client_cert_days: float = Field(default=90, ge=0.0001, le=3650)
    enrollment_token_ttl: Duration = 3600.0
    reconnection_policy: ReconnectionPolicyConfig = Field(
        default_factory=ReconnectionPolicyConfig
    )


def _check_network(entry: str) -> str:
    parse_network(entry)
    return entry.strip()


NetworkEntry = Annotated[str, AfterValidator(_check_network)]
"""An IPv4 or IPv6 address or CIDR network such as "10.0.0.0/8" or "fd00::/8"."""


class RateLimitingConfig(_Section):
    """Token buckets per principal and per client address on the API port."""

    enabled: bool = True
    requests_per_minute: int = Field(default=100, ge=1, le=1_000_000)
    burst_size: int = Field(default=20, ge=1, le=1_000_000)
    ip_whitelist: list[NetworkEntry] = Field(default_factory=list)
    trusted_proxies: list[NetworkEntry] = Field(default_factory=list)
    # Start of every rate-limit key in Redis, so several hubs or tests can
    # share one Redis database without sharing buckets.
    redis_key_prefix: str = Field(
        default="ris:ratelimit:", min_length=1, max_length=200, pattern=r"^[!-~]+$"
    )
    login_failures_per_minute: int = Field(default=5, ge=1, le=10_000)


AuditEventKind = Literal[
    "authentication", "authorization", "task_execution", "client_management"
]


class AuditConfig(_Section):
    enabled: bool = True
    events: list[AuditEventKind] = Field(
        default_factory=lambda: [
            "authentication",
            "authorization",
            "task_execution",
            "client_management",
        ]
    )
    retention_days: int = Field(default=90, ge=1, le=36500)
    format: Literal["json"] = "json"


class DataAtRestConfig(_Section):
    enabled: bool = True
    algorithm: Literal["AES-256-GCM"] = "AES-256-GCM"
    key_rotation_days: int = Field(default=90, ge=1, le=3650)
    master_key_file: str = ""


class DataInTransitConfig(_Section):
    enabled: bool = True
    min_tls_version: Literal["1.0", "1.1", "1.2", "1.3"] = "1.2"


class EncryptionConfig(_Section):
    data_at_rest: DataAtRestConfig = Field(default_factory=DataAtRestConfig)
    data_in_transit: DataInTransitConfig = Field(default_factory=DataInTransitConfig)


class SecurityConfig(_Section):
    rate_limiting: RateLimitingConfig = Field(default_factory=RateLimitingConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    encryption: EncryptionConfig = Field(default_factory=EncryptionConfig)


class AuditLogConfig(_Section):
    """Location of the audit log and the rotation of its files."""

    enabled: bool = True
    path: str = ""
    max_size: ByteSize = 100_000_000
    max_backups: int = Field(default=30, ge=0, le=100_000)
    max_age: int = Field(default=365, ge=1, le=36500)


class MetricsConfig(_Section):
    enabled: bool = True
    host: str = ""
    port: int = Field(default=9090, ge=0, le=65535)
    path: str = "/metrics"
    interval: Duration = 15.0


class MonitoringConfig(_OpenSection):
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)


class LoggingConfig(_OpenSection):
    level: Literal["debug", "info", "warning", "warn", "error"] = "info"
    format: Literal["json", "text"] = "text"
    output: Literal["stdout", "stderr", "file"] = "stderr"


class HubConfig(_Section):
    """The whole master configuration."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    authentication: AuthenticationConfig = Field(default_factory=AuthenticationConfig)
    authorization: AuthorizationConfig = Field(default_factory=AuthorizationConfig)
    multi_tenant: MultiTenantConfig = Field(default_factory=MultiTenantConfig)
    task_orchestration: TaskOrchestrationConfig = Field(
        default_factory=TaskOrchestrationConfig
    )
    client_management: ClientManagementConfig = Field(
        default_factory=ClientManagementConfig
    )
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    audit_log: AuditLogConfig = Field(default_factory=AuditLogConfig)
    performance: dict[str, Any] = Field(default_factory=dict)
    features: dict[str, Any] = Field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return Path(self.server.data_dir)


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and value."""


# Keys whose values are never shown in an error, matched by substring.
_SECRET_KEY_PARTS = ("secret", "password", "token", "uri")


def _format_validation_error(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        value = item.get("input")
        shown = "(missing)" if item["type"] == "missing" else repr(value)
        if isinstance(value, dict):
            shown = "{...}"
        if any(part in key.lower() for part in _SECRET_KEY_PARTS):
            shown = "(hidden)"
        lines.append(f"  {key} = {shown}: {item['msg']}")
    return "\n".join(lines)


# Documented environment variables and the config keys they set.
_ENV_KEYS: dict[str, tuple[str, ...]] = {
    "MONGODB_URI": ("database", "mongodb", "uri"),
    "REDIS_URI": ("database", "redis", "uri"),
    "TLS_CERT_FILE": ("server", "tls", "cert_file"),
    "TLS_KEY_FILE": ("server", "tls", "key_file"),
    "JWT_SECRET": ("authentication", "jwt", "secret"),
    "LOG_LEVEL": ("logging", "level"),
    "METRICS_PORT": ("monitoring", "metrics", "port"),
    "RIS_DATA_DIR": ("server", "data_dir"),
}


def _set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def load_config(
    env: dict[str, str] | None = None,
    overrides: dict[tuple[str, ...], Any] | None = None,
) -> HubConfig:
    """Build the configuration from CONFIG_PATH, the environment and overrides.

    A CONFIG_PATH that is set but missing is an error; without CONFIG_PATH
    the documented default path is read only when it exists. Raises
    ConfigError with one line per bad key.
    """
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    source = "defaults"
    path = env.get("CONFIG_PATH")
    if path or Path(DEFAULT_CONFIG_PATH).is_file():
        path = path or DEFAULT_CONFIG_PATH
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"CONFIG_PATH={path}: file not found") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a JSON object")
        source = path
    for name, key_path in _ENV_KEYS.items():
        if env.get(name):
            _set_path(raw, key_path, env[name])
    for key_path, value in (overrides or {}).items():
        _set_path(raw, key_path, value)
    try:
        config = HubConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from None
    _check_consistency(config)
    return config


def _check_consistency(config: HubConfig) -> None:
    tls = config.server.tls
    if bool(tls.cert_file) != bool(tls.key_file):
        raise ConfigError(
            "server.tls.cert_file and server.tls.key_file must be set together"
        )
    try:
        check_ca_settings(tls.enabled, tls.client_auth, tls.ca_file, tls.ca_key_file)
    except CaConfigError as exc:
        raise ConfigError(str(exc)) from None
    if float(tls.min_version) > float(tls.max_version):
        raise ConfigError(
            f"server.tls.min_version = {tls.min_version!r} is above "
            f"max_version = {tls.max_version!r}"
        )
    transit = config.security.encryption.data_in_transit
    try:
        tls_policy.check_min_version(tls.min_version, "server.tls.min_version")
        tls_policy.check_max_version(tls.max_version, "server.tls.max_version")
        tls_policy.check_min_version(
            transit.min_tls_version,
            "security.encryption.data_in_transit.min_tls_version",
        )
        tls_policy.check_cipher_suites(tls.cipher_suites, "server.tls.cipher_suites")
    except tls_policy.TlsPolicyError as exc:
        raise ConfigError(str(exc)) from None
    jwt = config.authentication.jwt
    if jwt.algorithm != "HS256":
        for key in ("private_key_file", "public_key_file"):
            path = getattr(jwt, key)
            if not path:
                raise ConfigError(
                    f"authentication.jwt.{key} is required for algorithm "
                    f"{jwt.algorithm}"
                )
            if not Path(path).is_file():
                raise ConfigError(
                    f"authentication.jwt.{key} = {path!r}: file not found"
                )
    _check_ldap(config.authentication.ldap)
    if config.multi_tenant.tenant_isolation == "database":
        # The code names the tenant's database file, DATA/tenants/<code>.db.
        try:
            check_tenant_code(
                config.multi_tenant.default_tenant, "multi_tenant.default_tenant"
            )
        except InvalidArgument as exc:
            raise ConfigError(
                f"{exc} (required with multi_tenant.tenant_isolation = 'database')"
            ) from None
    if config.audit_log.max_size < 4000:
        raise ConfigError(
            f"audit_log.max_size = {config.audit_log.max_size} bytes is too "
            "small: use at least 4KB (4000 bytes)"
        )
    policy = config.task_orchestration.retry_policy
    if policy.initial_delay > policy.max_delay:
        raise ConfigError(
            "task_orchestration.retry_policy.initial_delay must not exceed max_delay"
        )
    cm = config.client_management
    if cm.connection_timeout <= cm.heartbeat_interval:
        raise ConfigError(
            f"client_management.connection_timeout = {cm.connection_timeout}s must "
            f"exceed heartbeat_interval = {cm.heartbeat_interval}s"
        )


def _check_ldap(ldap: LdapConfig) -> None:
    """Check the directory settings that pydantic's types cannot express."""
    prefix = "authentication.ldap"
    if ldap.url:
        # Checked before any message echoes the URL, which would show the
        # password.
        authority = re.split(r"[/?#]", ldap.url.partition("://")[2], maxsplit=1)[0]
        if "@" in authority:
            raise ConfigError(
                f"{prefix}.url must not contain a user name or password; set "
                f"{prefix}.bind_dn and {prefix}.bind_password instead"
            )
        try:
            parts = urlsplit(ldap.url)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise ConfigError(f"{prefix}.url = {ldap.url!r}: invalid URL") from None
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ConfigError(
                f"{prefix}.url = {ldap.url!r}: expected ldap://HOST[:PORT] or "
                "ldaps://HOST[:PORT]"
            )
        if parts.scheme == "ldaps" and ldap.start_tls:
            raise ConfigError(
                f"{prefix}.start_tls must be false with an ldaps:// url, which "
                "is TLS from the start"
            )
    if ldap.timeout <= 0:
        raise ConfigError(f"{prefix}.timeout = {ldap.timeout}s: must be positive")
    if ldap.ca_file and not Path(ldap.ca_file).is_file():
        raise ConfigError(f"{prefix}.ca_file = {ldap.ca_file!r}: file not found")
    if not ldap.enabled:
        return
    if not ldap.url:
        raise ConfigError(f"{prefix}.url is required when {prefix}.enabled is true")
    if not ldap.base_dn.strip():
        raise ConfigError(f"{prefix}.base_dn is required when {prefix}.enabled is true")
    for key in ("user_filter", "group_filter"):
        value = getattr(ldap, key)
        if value.count("%s") != 1:
            raise ConfigError(
                f"{prefix}.{key} = {value!r}: must contain %s exactly once, "
                "where the escaped value goes"
            )
        if not (value.startswith("(") and value.endswith(")")):
            raise ConfigError(
                f"{prefix}.{key} = {value!r}: must be an LDAP filter in "
                "parentheses, such as (uid=%s)"
            )
    if ldap.bind_password and not ldap.bind_dn:
        raise ConfigError(f"{prefix}.bind_password is set but bind_dn is empty")
    # Imported here because ldap_auth imports this module.
    from ris_server.ldap_auth import build_server

    build_server(ldap)
