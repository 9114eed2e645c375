"""TenantService: tenant records and what a tenant's hosts need to join."""

import time
import uuid

from ris.v1 import tenant_pb2, tenant_pb2_grpc
from ris_server import rbac
from ris_server.convert import tenant_to_proto
from ris_server.errors import InvalidArgument, NotFound
from ris_server.hub import Hub
from ris_server.interceptors import service_errors
from ris_server.models import Tenant
from ris_server.store import database_info
from ris_server.validation import check_host, check_tenant_code, check_text, require


class TenantServicer(tenant_pb2_grpc.TenantServiceServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def _visible_tenant(self, key: str, field: str) -> Tenant:
        """Find a tenant by UUID or code that the caller may read."""
        require(key, field)
        principal, own = await self._hub.caller()
        store = self._hub.store
        tenant = await store.get_tenant_by_id(key) or await store.get_tenant(key)
        if tenant is None or (tenant.id != own.id and principal.role < rbac.SUPERADMIN):
            raise NotFound(f"tenant {key[:64]!r} not found")
        return tenant

    @service_errors
    async def CreateTenant(self, request, context):
        await self._hub.caller()
        check_tenant_code(request.code)
        require(request.name, "name")
        check_text(request.name, "name", 200)
        check_text(request.description, "description", 2000)
        check_text(request.settings.timezone, "settings.timezone", 64)
        check_text(request.settings.language, "settings.language", 35)
        for feature in request.settings.features:
            check_text(feature, "settings.features", 64)
        for field in (
            "max_clients",
            "max_tasks",
            "max_storage_gb",
            "max_bandwidth_mbs",
        ):
            if getattr(request.limits, field) < 0:
                raise InvalidArgument(f"limits.{field} must not be negative")
        now = time.time()
        tenant = Tenant(
            id=str(uuid.uuid4()),
            code=request.code,
            name=request.name,
            description=request.description,
            status=tenant_pb2.TENANT_STATUS_ACTIVE,
            limits={
                "max_clients": request.limits.max_clients,
                "max_tasks": request.limits.max_tasks,
                "max_storage_gb": request.limits.max_storage_gb,
                "max_bandwidth_mbs": request.limits.max_bandwidth_mbs,
            },
            settings={
                "timezone": request.settings.timezone or "UTC",
                "language": request.settings.language or "en",
                "features": list(request.settings.features),
            },
            database_info=self._database_info(request.code),
            created_at=now,
            updated_at=now,
        )
        await self._hub.store.create_tenant(tenant)
        return tenant_pb2.CreateTenantResponse(tenant=tenant_to_proto(tenant))

    def _database_info(self, code: str) -> dict:
        return database_info(self._hub.config.multi_tenant.tenant_isolation, code)

    @service_errors
    async def ListTenants(self, request, context):
        await self._hub.caller()
        tenants = await self._hub.store.list_tenants()
        return tenant_pb2.ListTenantsResponse(
            tenants=[tenant_to_proto(t) for t in tenants]
        )

    @service_errors
    async def GetTenantInfo(self, request, context):
        tenant = await self._visible_tenant(request.tenant_uuid, "tenant_uuid")
        return tenant_pb2.GetTenantInfoResponse(tenant=tenant_to_proto(tenant))

    @service_errors
    async def GetTenantConfig(self, request, context):
        check_host(request.hostname, "hostname", required=True)
        tenant = await self._visible_tenant(request.tenant_id, "tenant_id")
        message = tenant_to_proto(tenant)
        return tenant_pb2.GetTenantConfigResponse(
            tenant_info=tenant_pb2.TenantInfo(
                tenant_code=tenant.code,
                tenant_name=tenant.name,
                database_config=tenant_pb2.TenantDatabaseConfig(
                    host=message.database_info.host,
                    database=message.database_info.database,
                ),
            ),
            client_config=self._hub.client_config(),
            settings=message.settings,
            limits=message.limits,
        )
