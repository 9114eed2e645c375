"""AuthService.ChangePassword through gRPC on real hubs, and once over REST."""

import json

import grpc
import pytest

from ris.v1 import auth_pb2, client_pb2
from ris_server import rbac
from tests.server.conftest import connect_api
from tests.server.test_api import add_user
from tests.server.test_rate_limit_rest import edge_hub_factory, rest_client
from tests.support import Api

__all__ = ["edge_hub_factory"]

NEW_PASSWORD = "a-brand-new-passphrase"


async def change(api: Api, current: str, new: str):
    return await api.auth.ChangePassword(
        auth_pb2.ChangePasswordRequest(current_password=current, new_password=new),
        metadata=api.metadata,
    )


async def error_of(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value


async def list_code(api: Api) -> grpc.StatusCode:
    try:
        await api.clients.ListClients(
            client_pb2.ListClientsRequest(), metadata=api.metadata
        )
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_readonly_user_changes_password(hub_server):
    await add_user(hub_server, "default", "reader", rbac.READONLY)
    async with await connect_api(hub_server) as channel:
        caller, other = Api(channel), Api(channel)
        await caller.login("reader", "pw-reader")
        other_session = await other.login("reader", "pw-reader")

        response = await change(caller, "pw-reader", NEW_PASSWORD)

        caller_code = await list_code(caller)
        other_code = await list_code(other)
        other_refresh = await error_of(
            other.auth.Refresh(
                auth_pb2.RefreshRequest(refresh_token=other_session.refresh_token)
            )
        )
        old_login = await error_of(Api(channel).login("reader", "pw-reader"))
        new_login = await Api(channel).login("reader", NEW_PASSWORD)

    assert response.sessions_ended == 1
    assert caller_code == grpc.StatusCode.OK
    assert other_code == grpc.StatusCode.UNAUTHENTICATED
    assert other_refresh.code() == grpc.StatusCode.UNAUTHENTICATED
    assert old_login.code() == grpc.StatusCode.UNAUTHENTICATED
    assert new_login.user.role == rbac.READONLY


async def test_change_audited_without_passwords(hub_server):
    await add_user(hub_server, "default", "audited", rbac.OPERATOR)
    async with await connect_api(hub_server) as channel:
        api = Api(channel)
        await api.login("audited", "pw-audited")
        await error_of(change(api, "wrong-current-guess", NEW_PASSWORD))
        await change(api, "pw-audited", NEW_PASSWORD)
    text = (hub_server.config.data_dir / "audit.log").read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    actions = [(e["action"], e["outcome"]) for e in entries]
    assert ("password_change", "failure") in actions
    assert ("password_changed", "success") in actions
    for secret in ("pw-audited", NEW_PASSWORD, "wrong-current-guess"):
        assert secret not in text


@pytest.mark.parametrize(
    ("current", "new", "fragment"),
    [
        ("", NEW_PASSWORD, "current_password is required"),
        ("pw-checked", "", "new_password is required"),
        ("pw-checked", "short", "new_password must be 12 to 1024"),
        ("pw-checked", " " * 20, "new_password must not be only whitespace"),
        ("pw-checked", "\t\n" * 8, "new_password must not be only whitespace"),
        ("pw-checked", "x" * 1025, "new_password must be 12 to 1024"),
    ],
)
async def test_invalid_change_rejected(hub_server, current, new, fragment):
    await add_user(hub_server, "default", "checked", rbac.READONLY)
    async with await connect_api(hub_server) as channel:
        api = Api(channel)
        await api.login("checked", "pw-checked")
        error = await error_of(change(api, current, new))
        still_old = await Api(channel).login("checked", "pw-checked")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in error.details()
    assert still_old.access_token


async def test_wrong_current_password_counts(hub_factory):
    server = await hub_factory(
        security={"rate_limiting": {"login_failures_per_minute": 2}}
    )
    await add_user(server, "default", "guessed", rbac.READONLY)
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login("guessed", "pw-guessed")
        wrong = [
            await error_of(change(api, "wrong-guess-1", NEW_PASSWORD)),
            await error_of(change(api, "wrong-guess-2", NEW_PASSWORD)),
        ]
        limited = await error_of(change(api, "pw-guessed", NEW_PASSWORD))
        login = await error_of(Api(channel).login("guessed", "pw-guessed"))
    assert [error.code() for error in wrong] == [grpc.StatusCode.UNAUTHENTICATED] * 2
    assert "current_password is wrong" in wrong[0].details()
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert login.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_change_password_over_rest(edge_hub_factory):
    server = await edge_hub_factory()
    await add_user(server, "default", "rest-user", rbac.READONLY)
    hub = server.hub
    async with rest_client(hub.endpoints.edge, hub.ca.ca_pem, "127.0.0.1") as client:
        login = await client.post(
            "/auth/login", json={"username": "rest-user", "password": "pw-rest-user"}
        )
        token = login.json()["data"]["access_token"]
        response = await client.post(
            "/auth/password",
            json={"current_password": "pw-rest-user", "new_password": NEW_PASSWORD},
            headers={"Authorization": f"Bearer {token}"},
        )
        relogin = await client.post(
            "/auth/login", json={"username": "rest-user", "password": NEW_PASSWORD}
        )
    assert login.status_code == 200
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"sessions_ended": 0}}
    assert relogin.status_code == 200
