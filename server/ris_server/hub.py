"""The hub's shared state, handed to every servicer."""

import time
from dataclasses import dataclass, field

from ris.v1 import common_pb2, tenant_pb2
from ris_server import rbac
from ris_server.audit import AuditLog
from ris_server.config import HubConfig
from ris_server.dispatch import Dispatcher
from ris_server.errors import NotFound, PermissionDenied, Unauthenticated
from ris_server.interceptors import current_principal
from ris_server.models import Tenant
from ris_server.pki import CertificateAuthority, RevokedSerials
from ris_server.store.base import Repository
from ris_server.tenant_quotas import TenantQuotas
from ris_server.tokens import Principal, TokenService


@dataclass
class Endpoints:
    """Addresses the hub listens on, as "HOST:PORT", once they are bound."""

    grpc: str = ""
    agent: str = ""
    edge: str = ""
    metrics: str = ""
    public_host: str = ""
    agent_port: int = 0
    grpc_port: int = 0


@dataclass
class Hub:
    config: HubConfig
    store: Repository
    tokens: TokenService
    ca: CertificateAuthority
    dispatcher: Dispatcher
    audit: AuditLog
    endpoints: Endpoints = field(default_factory=Endpoints)
    revoked: RevokedSerials = field(default_factory=RevokedSerials)
    quotas: TenantQuotas | None = None
    started_at: float = field(default_factory=time.time)

    def client_config(self) -> common_pb2.ClientConfig:
        cm = self.config.client_management
        policy = cm.reconnection_policy
        return common_pb2.ClientConfig(
            server_host=f"https://{self.endpoints.public_host}:{self.endpoints.agent_port}",
            websocket_path="/ris.v1.AgentService/Connect",
            heartbeat_interval=max(1, round(cm.heartbeat_interval)),
            reconnect_policy=common_pb2.ReconnectPolicy(
                max_attempts=policy.max_attempts,
                backoff_strategy=policy.backoff_strategy,
                initial_delay=max(1, round(policy.initial_delay)),
                max_delay=max(1, round(policy.max_delay)),
            ),
        )

    async def caller(self) -> tuple[Principal, Tenant]:
        """Return the caller and its tenant, which must exist and be active."""
        principal = current_principal()
        tenant = await self.store.get_tenant(principal.tenant_code)
        if tenant is None:
            raise Unauthenticated("token names an unknown tenant")
        if tenant.status != tenant_pb2.TENANT_STATUS_ACTIVE:
            raise PermissionDenied(f"tenant {tenant.code!r} is suspended")
        return principal, tenant

    async def scoped_tenant(self, requested: str) -> tuple[Principal, Tenant]:
        """Resolve the tenant a request acts on.

        An empty `requested` means the caller's own tenant. Only a superadmin
        may name another tenant; anyone else gets PERMISSION_DENIED.
        """
        principal, own = await self.caller()
        if not requested or requested == own.code:
            return principal, own
        if principal.role < rbac.SUPERADMIN:
            raise PermissionDenied(
                f"tenant_code {requested[:64]!r} is not your tenant; only a "
                "superadmin acts on other tenants"
            )
        tenant = await self.store.get_tenant(requested)
        if tenant is None:
            raise NotFound(f"tenant {requested[:64]!r} not found")
        return principal, tenant
