"""UserService: accounts, role grants and the guards around them."""

import sqlite3

import grpc
import pytest

from ris.v1 import auth_pb2, client_pb2, common_pb2, tenant_pb2, user_pb2
from ris_server import rbac
from ris_server.store.sqlite import SqliteStore
from tests.server.conftest import connect_api
from tests.server.test_api import add_user
from tests.support import Api

NEW_PASSWORD = "correct-horse-battery"


async def create(api: Api, email: str, role=common_pb2.ROLE_OPERATOR, **fields):
    response = await api.users.CreateUser(
        user_pb2.CreateUserRequest(
            email=email, password=NEW_PASSWORD, role=role, **fields
        ),
        metadata=api.metadata,
    )
    return response.user


async def logged_in(api: Api, email: str, password: str, tenant: str = "") -> Api:
    user_api = Api(api.channel)
    await user_api.login(email, password, tenant)
    return user_api


async def status_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value.code()


async def test_created_user_logs_in_with_role(api):
    user = await create(api, "ops@example.com")

    operator = await logged_in(api, "ops@example.com", NEW_PASSWORD)
    me = await operator.auth.Login(
        auth_pb2.LoginRequest(username="ops@example.com", password=NEW_PASSWORD)
    )

    assert user.role == common_pb2.ROLE_OPERATOR
    assert user.tenant_code == "default"
    assert not user.disabled
    assert me.user.id == user.id
    assert me.user.role == common_pb2.ROLE_OPERATOR


async def test_list_and_get_never_return_hashes(api):
    user = await create(api, "reader@example.com", common_pb2.ROLE_READONLY)

    listed = await api.users.ListUsers(
        user_pb2.ListUsersRequest(), metadata=api.metadata
    )
    fetched = await api.users.GetUser(
        user_pb2.GetUserRequest(user_id=user.id), metadata=api.metadata
    )

    assert [u.email for u in listed.users] == ["admin", "reader@example.com"]
    assert listed.total == 2
    assert fetched.user == user
    assert "argon2" not in str(listed)
    assert "argon2" not in str(fetched)


async def test_default_role_from_config(hub_factory):
    server = await hub_factory(authorization={"rbac": {"default_role": "operator"}})
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login()
        user = await create(api, "plain@example.com", common_pb2.ROLE_UNSPECIFIED)

    assert user.role == common_pb2.ROLE_OPERATOR


@pytest.mark.parametrize(
    ("email", "password", "fragment"),
    [
        ("", NEW_PASSWORD, "email"),
        ("has space@example.com", NEW_PASSWORD, "email"),
        ("x" * 300, NEW_PASSWORD, "email"),
        ("short@example.com", "too-short", "12 to 1024"),
        ("long@example.com", "p" * 1025, "12 to 1024"),
    ],
)
async def test_invalid_account_fields(api, email, password, fragment):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await api.users.CreateUser(
            user_pb2.CreateUserRequest(email=email, password=password, role=1),
            metadata=api.metadata,
        )

    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in error.value.details()
    assert password not in error.value.details()


async def test_unknown_role_rejected(api):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(api, "odd@example.com", role=9)

    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "role 9" in error.value.details()


async def test_duplicate_email_already_exists(api):
    await create(api, "twice@example.com")

    code = await status_of(create(api, "twice@example.com"))

    assert code == grpc.StatusCode.ALREADY_EXISTS


async def test_admin_cannot_grant_above_own_role(api, hub_server):
    await add_user(hub_server, "default", "boss@example.com", rbac.ADMIN)
    admin = await logged_in(api, "boss@example.com", "pw-boss@example.com")

    code = await status_of(
        create(admin, "root2@example.com", common_pb2.ROLE_SUPERADMIN)
    )
    peer = await create(admin, "peer@example.com", common_pb2.ROLE_ADMIN)

    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert peer.role == common_pb2.ROLE_ADMIN


async def test_admin_cannot_touch_superadmin(api, hub_server):
    await add_user(hub_server, "default", "boss@example.com", rbac.ADMIN)
    admin = await logged_in(api, "boss@example.com", "pw-boss@example.com")
    root_id = (await api.login()).user.id

    demote = await status_of(
        admin.users.UpdateUser(
            user_pb2.UpdateUserRequest(user_id=root_id, role=common_pb2.ROLE_READONLY),
            metadata=admin.metadata,
        )
    )
    delete = await status_of(
        admin.users.DeleteUser(
            user_pb2.DeleteUserRequest(user_id=root_id), metadata=admin.metadata
        )
    )

    assert demote == grpc.StatusCode.PERMISSION_DENIED
    assert delete == grpc.StatusCode.PERMISSION_DENIED


async def test_last_superadmin_keeps_role(api):
    root_id = (await api.login()).user.id

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await api.users.UpdateUser(
            user_pb2.UpdateUserRequest(user_id=root_id, role=common_pb2.ROLE_ADMIN),
            metadata=api.metadata,
        )

    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "last active superadmin" in error.value.details()


async def test_second_superadmin_allows_demotion(api):
    root_id = (await api.login()).user.id
    await create(api, "root2@example.com", common_pb2.ROLE_SUPERADMIN)

    response = await api.users.UpdateUser(
        user_pb2.UpdateUserRequest(user_id=root_id, role=common_pb2.ROLE_ADMIN),
        metadata=api.metadata,
    )

    assert response.user.role == common_pb2.ROLE_ADMIN


async def test_disabled_user_cannot_log_in(api):
    user = await create(api, "gone@example.com")
    await logged_in(api, "gone@example.com", NEW_PASSWORD)

    await api.users.UpdateUser(
        user_pb2.UpdateUserRequest(user_id=user.id, disabled=True),
        metadata=api.metadata,
    )
    code = await status_of(logged_in(api, "gone@example.com", NEW_PASSWORD))

    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_own_account_cannot_be_disabled_or_deleted(api):
    root_id = (await api.login()).user.id

    disable = await status_of(
        api.users.UpdateUser(
            user_pb2.UpdateUserRequest(user_id=root_id, disabled=True),
            metadata=api.metadata,
        )
    )
    delete = await status_of(
        api.users.DeleteUser(
            user_pb2.DeleteUserRequest(user_id=root_id), metadata=api.metadata
        )
    )

    assert disable == grpc.StatusCode.FAILED_PRECONDITION
    assert delete == grpc.StatusCode.FAILED_PRECONDITION


async def test_password_change_ends_sessions(api):
    user = await create(api, "rotate@example.com")
    session = await Api(api.channel).login("rotate@example.com", NEW_PASSWORD)

    await api.users.UpdateUser(
        user_pb2.UpdateUserRequest(user_id=user.id, password="a-new-long-password"),
        metadata=api.metadata,
    )
    refresh = await status_of(
        api.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=session.refresh_token))
    )
    old_password = await status_of(logged_in(api, "rotate@example.com", NEW_PASSWORD))
    new_login = await logged_in(api, "rotate@example.com", "a-new-long-password")

    assert refresh == grpc.StatusCode.UNAUTHENTICATED
    assert old_password == grpc.StatusCode.UNAUTHENTICATED
    assert new_login.metadata


async def test_deleted_user_is_gone(api):
    user = await create(api, "temp@example.com")

    await api.users.DeleteUser(
        user_pb2.DeleteUserRequest(user_id=user.id), metadata=api.metadata
    )
    get = await status_of(
        api.users.GetUser(
            user_pb2.GetUserRequest(user_id=user.id), metadata=api.metadata
        )
    )
    login = await status_of(logged_in(api, "temp@example.com", NEW_PASSWORD))

    assert get == grpc.StatusCode.NOT_FOUND
    assert login == grpc.StatusCode.UNAUTHENTICATED


async def test_other_tenant_user_needs_superadmin(api, hub_server):
    await api.tenants.CreateTenant(
        tenant_pb2.CreateTenantRequest(code="acme", name="Acme"), metadata=api.metadata
    )
    far = await create(api, "far@acme.example", tenant_code="acme")
    await add_user(hub_server, "default", "boss@example.com", rbac.ADMIN)
    admin = await logged_in(api, "boss@example.com", "pw-boss@example.com")

    by_id = await status_of(
        admin.users.GetUser(
            user_pb2.GetUserRequest(user_id=far.id), metadata=admin.metadata
        )
    )
    as_root = await api.users.GetUser(
        user_pb2.GetUserRequest(user_id=far.id, tenant_code="acme"),
        metadata=api.metadata,
    )

    assert far.tenant_code == "acme"
    assert by_id == grpc.StatusCode.NOT_FOUND
    assert as_root.user.email == "far@acme.example"


async def test_malformed_user_id_rejected(api):
    code = await status_of(
        api.users.GetUser(
            user_pb2.GetUserRequest(user_id="../x"), metadata=api.metadata
        )
    )

    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_old_database_gains_user_columns(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE users (id TEXT PRIMARY KEY, tenant_code TEXT NOT NULL, "
        "email TEXT NOT NULL, password_hash TEXT NOT NULL, role INTEGER NOT NULL, "
        "created_at REAL NOT NULL, UNIQUE (tenant_code, email))"
    )
    db.execute("INSERT INTO users VALUES ('u1', 'default', 'old', 'h', 3, 1.0)")
    db.commit()
    db.close()

    store = await SqliteStore.open(path)
    try:
        user = await store.get_user_by_id("u1")
    finally:
        await store.close()

    assert user.email == "old"
    assert user.disabled is False
    assert user.external is False


async def test_disabling_ends_access_tokens(api):
    user = await create(api, "cut@example.com")
    session = await logged_in(api, "cut@example.com", NEW_PASSWORD)
    before = await session.clients.ListClients(
        client_pb2.ListClientsRequest(), metadata=session.metadata
    )

    await api.users.UpdateUser(
        user_pb2.UpdateUserRequest(user_id=user.id, disabled=True),
        metadata=api.metadata,
    )
    after = await status_of(
        session.clients.ListClients(
            client_pb2.ListClientsRequest(), metadata=session.metadata
        )
    )

    assert before.total == 0
    assert after == grpc.StatusCode.UNAUTHENTICATED
