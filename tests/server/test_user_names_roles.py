"""Login names without case, the rbac lists outside the default tenant, and
role changes that end sessions, through real gRPC calls."""

import grpc
import pytest

from ris.v1 import auth_pb2, client_pb2, common_pb2, tenant_pb2, user_pb2
from ris_server import rbac
from ris_server.config import RbacConfig
from ris_server.login_roles import account_role
from tests.server.conftest import connect_api
from tests.server.test_api import add_user
from tests.support import Api

NEW_PASSWORD = "correct-horse-battery"
LISTS = {"super_admin_users": ["root"], "admin_users": ["boss"]}


async def create(api: Api, email: str, role=common_pb2.ROLE_READONLY, **fields):
    response = await api.users.CreateUser(
        user_pb2.CreateUserRequest(
            email=email, password=NEW_PASSWORD, role=role, **fields
        ),
        metadata=api.metadata,
    )
    return response.user


async def status_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value.code()


async def error_of(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value


def test_account_role_lists_apply_to_default_tenant():
    config = RbacConfig(**LISTS)
    assert account_role(1, "ROOT", "default", False, config, "default") == (
        rbac.SUPERADMIN
    )
    assert account_role(1, "root", "acme", False, config, "default") == 1
    assert account_role(1, "root", "acme", True, config, "default") == (rbac.SUPERADMIN)
    assert account_role(3, "boss", "default", False, config, "default") == 3


async def test_tenant_admin_cannot_mint_superadmin(hub_factory):
    server = await hub_factory(authorization={"rbac": LISTS})
    async with await connect_api(server) as channel:
        root = Api(channel)
        await root.login()
        await root.tenants.CreateTenant(
            tenant_pb2.CreateTenantRequest(code="acme", name="Acme"),
            metadata=root.metadata,
        )
        await add_user(server, "acme", "acme-admin", rbac.ADMIN)
        tenant_admin = Api(channel)
        await tenant_admin.login("acme-admin", "pw-acme-admin", "acme")

        created = await create(tenant_admin, "root")
        login = await Api(channel).login("root", NEW_PASSWORD, "acme")
        listed_admin = await create(tenant_admin, "Boss")
        boss = await Api(channel).login("boss", NEW_PASSWORD, "acme")

    assert created.role == rbac.READONLY
    assert login.user.role == rbac.READONLY
    assert listed_admin.role == rbac.READONLY
    assert boss.user.role == rbac.READONLY


async def test_create_checks_listed_role(hub_factory):
    server = await hub_factory(authorization={"rbac": LISTS})
    await add_user(server, "default", "helper", rbac.ADMIN)
    async with await connect_api(server) as channel:
        admin = Api(channel)
        await admin.login("helper", "pw-helper")
        denied = await error_of(create(admin, "ROOT"))
        # The admin list gives no more than the admin's own role.
        boss = await create(admin, "boss")
        boss_login = await Api(channel).login("boss", NEW_PASSWORD)

    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "authorization.rbac" in denied.details()
    assert "superadmin" in denied.details()
    assert await server.hub.store.get_user("default", "root") is None
    assert boss.role == rbac.READONLY
    assert boss_login.user.role == rbac.ADMIN


async def test_update_checks_listed_role(hub_factory):
    server = await hub_factory(authorization={"rbac": LISTS})
    await add_user(server, "default", "helper", rbac.ADMIN)
    await add_user(server, "default", "root", rbac.READONLY)
    root_user = await server.hub.store.get_user("default", "root")
    async with await connect_api(server) as channel:
        admin = Api(channel)
        await admin.login("helper", "pw-helper")
        code = await status_of(
            admin.users.UpdateUser(
                user_pb2.UpdateUserRequest(
                    user_id=root_user.id, password="another-long-password"
                ),
                metadata=admin.metadata,
            )
        )

    assert code == grpc.StatusCode.PERMISSION_DENIED


async def test_demoted_admin_token_ends_at_once(hub_server):
    await add_user(hub_server, "default", "demoted", rbac.ADMIN)
    user = await hub_server.hub.store.get_user("default", "demoted")
    async with await connect_api(hub_server) as channel:
        root = Api(channel)
        await root.login()
        demoted = Api(channel)
        session = await demoted.login("demoted", "pw-demoted")
        before = await demoted.clients.AddClient(
            client_pb2.AddClientRequest(name="c1", host="h1"),
            metadata=demoted.metadata,
        )

        await root.users.UpdateUser(
            user_pb2.UpdateUserRequest(user_id=user.id, role=common_pb2.ROLE_READONLY),
            metadata=root.metadata,
        )
        after = await status_of(
            demoted.clients.ListClients(
                client_pb2.ListClientsRequest(), metadata=demoted.metadata
            )
        )
        refresh = await status_of(
            demoted.auth.Refresh(
                auth_pb2.RefreshRequest(refresh_token=session.refresh_token)
            )
        )
        again = await demoted.login("demoted", "pw-demoted")

    assert before.client.name == "c1"
    assert after == grpc.StatusCode.UNAUTHENTICATED
    assert refresh == grpc.StatusCode.UNAUTHENTICATED
    assert again.user.role == rbac.READONLY


async def test_raised_role_keeps_sessions(hub_server):
    await add_user(hub_server, "default", "raised", rbac.READONLY)
    user = await hub_server.hub.store.get_user("default", "raised")
    async with await connect_api(hub_server) as channel:
        root = Api(channel)
        await root.login()
        raised = Api(channel)
        await raised.login("raised", "pw-raised")

        await root.users.UpdateUser(
            user_pb2.UpdateUserRequest(user_id=user.id, role=common_pb2.ROLE_OPERATOR),
            metadata=root.metadata,
        )
        listed = await raised.clients.ListClients(
            client_pb2.ListClientsRequest(), metadata=raised.metadata
        )

    assert listed.total == 0


async def test_names_stored_folded_and_unique(api, hub_server):
    created = await create(api, "Mixed.Case@Example.com")
    duplicate = await status_of(create(api, "MIXED.case@example.com"))
    by_other_case = await Api(api.channel).login("mixed.CASE@example.COM", NEW_PASSWORD)
    admin_twin = await status_of(create(api, "ADMIN"))

    assert created.email == "mixed.case@example.com"
    assert duplicate == grpc.StatusCode.ALREADY_EXISTS
    assert admin_twin == grpc.StatusCode.ALREADY_EXISTS
    assert by_other_case.user.id == created.id


async def test_mixed_case_row_still_found(api, hub_server):
    # An account stored with capitals before names were folded.
    await add_user(hub_server, "default", "Legacy.User", rbac.OPERATOR)

    exact = await Api(api.channel).login("Legacy.User", "pw-Legacy.User")
    duplicate = await status_of(create(api, "Legacy.User"))

    assert exact.user.email == "Legacy.User"
    assert duplicate == grpc.StatusCode.ALREADY_EXISTS
