"""First-start setup: the default tenant and the bootstrap superadmin."""

import logging
import os
import secrets
import sys
import time
import uuid

from ris.v1 import tenant_pb2
from ris_server import rbac
from ris_server.config import HubConfig
from ris_server.models import Tenant, User
from ris_server.passwords import hash_password
from ris_server.store.base import Repository

log = logging.getLogger(__name__)

ADMIN_ENV = "RIS_BOOTSTRAP_ADMIN"
PASSWORD_ENV = "RIS_BOOTSTRAP_PASSWORD"


async def ensure_default_tenant(store: Repository, config: HubConfig) -> Tenant:
    code = config.multi_tenant.default_tenant
    tenant = await store.get_tenant(code)
    if tenant is not None:
        return tenant
    now = time.time()
    tenant = Tenant(
        id=str(uuid.uuid4()),
        code=code,
        name="Default Tenant",
        status=tenant_pb2.TENANT_STATUS_ACTIVE,
        settings={"timezone": "UTC", "language": "en", "features": []},
        database_info={"type": "sqlite", "database": "ris"},
        created_at=now,
        updated_at=now,
    )
    await store.create_tenant(tenant)
    log.info("created tenant %s", code)
    return tenant


async def ensure_superadmin(store: Repository, tenant: Tenant) -> None:
    """Create the first user when the store has none.

    The password comes from RIS_BOOTSTRAP_PASSWORD, or is generated and
    printed once on stdout; it is never logged.
    """
    if await store.count_users() > 0:
        return
    username = os.environ.get(ADMIN_ENV) or "admin"
    password = os.environ.get(PASSWORD_ENV)
    generated = not password
    if generated:
        password = secrets.token_urlsafe(18)
    await store.create_user(
        User(
            id=str(uuid.uuid4()),
            tenant_code=tenant.code,
            email=username,
            password_hash=hash_password(password),
            role=rbac.SUPERADMIN,
            created_at=time.time(),
        )
    )
    log.info("created bootstrap superadmin %s in tenant %s", username, tenant.code)
    if generated:
        print(
            f"\nBootstrap superadmin created: username {username!r}, tenant "
            f"{tenant.code!r}, password {password}\nIt is shown only this once; "
            f"set {PASSWORD_ENV} to choose it instead.\n",
            file=sys.stdout,
            flush=True,
        )
