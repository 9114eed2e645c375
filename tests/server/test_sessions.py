"""Login sessions: the `sid` claim, logout, the session limit, listed roles."""

import json

import jwt
import pytest
from grpc import StatusCode as Code

from ris.v1 import auth_pb2, client_pb2
from ris_server import rbac
from ris_server.app import HubServer
from ris_server.bootstrap import PASSWORD_ENV
from ris_server.config import RbacConfig
from ris_server.login_roles import directory_role, effective_role, normalize_dn
from ris_server.sessions import SLACK, SessionRevocations
from tests.server.conftest import connect_api
from tests.server.test_api import add_user, rpc_error
from tests.support import ADMIN_PASSWORD, Api, local_hub_config


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def _list_clients(api: Api, access_token: str):
    return await api.clients.ListClients(
        client_pb2.ListClientsRequest(),
        metadata=(("authorization", f"Bearer {access_token}"),),
    )


async def _refresh(api: Api, refresh_token: str):
    return await api.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=refresh_token))


async def _logout(api: Api, refresh_token: str):
    return await api.auth.Logout(auth_pb2.LogoutRequest(refresh_token=refresh_token))


def _audit(server) -> list[dict]:
    text = (server.config.data_dir / "audit.log").read_text()
    return [json.loads(line) for line in text.splitlines()]


# The revoked set on its own.


def test_revocations_drop_entries_after_horizon():
    revocations = SessionRevocations(horizon=100.0)
    revocations.add("a", revoked_at=1000.0, now=1000.0)
    assert revocations.is_revoked("a", 1000.0 + 100.0 + SLACK - 1)
    assert not revocations.is_revoked("a", 1000.0 + 100.0 + SLACK)
    assert len(revocations) == 0


def test_revocations_prune_on_add():
    revocations = SessionRevocations(horizon=10.0)
    for index in range(100):
        revocations.add(f"s{index}", revoked_at=0.0, now=0.0)
    revocations.add("late", revoked_at=1000.0, now=1000.0)
    assert len(revocations) == 1
    assert "late" in revocations


def test_revocations_load_skips_stale_entries():
    revocations = SessionRevocations(horizon=10.0)
    kept = revocations.load([("old", 0.0), ("new", 990.0)], now=1000.0)
    assert kept == 1
    assert revocations.is_revoked("new", 1000.0)
    assert not revocations.is_revoked("old", 1000.0)


def test_revocations_second_add_extends_entry():
    revocations = SessionRevocations(horizon=10.0)
    revocations.add("a", revoked_at=0.0, now=0.0)
    revocations.add("a", revoked_at=50.0, now=50.0)
    assert revocations.is_revoked("a", 50.0 + 10.0 + SLACK - 1)
    # The first entry's expiry passing must not drop the later one.
    first_expiry = 0.0 + 10.0 + SLACK
    revocations.add("b", revoked_at=first_expiry + 1, now=first_expiry + 1)
    assert revocations.is_revoked("a", 50.0 + 10.0 + SLACK - 1)


# Role resolution on its own.


def test_listed_roles_raise_never_lower():
    config = RbacConfig(admin_users=["Ann@Example.org"], super_admin_users=["root"])
    assert effective_role(rbac.READONLY, ["ann@example.org"], config) == rbac.ADMIN
    assert effective_role(rbac.READONLY, ["root"], config) == rbac.SUPERADMIN
    assert effective_role(rbac.SUPERADMIN, ["ann@example.org"], config) == (
        rbac.SUPERADMIN
    )
    assert effective_role(rbac.OPERATOR, ["bob"], config) == rbac.OPERATOR


def test_directory_role_highest_group_wins():
    groups = {
        "cn=ops,ou=groups,dc=example,dc=org": "operator",
        "cn=admins,ou=groups,dc=example,dc=org": "admin",
    }
    member_of = [
        "CN=Ops, OU=Groups,dc=example,dc=org",
        "cn=admins,ou=groups,dc=example,dc=org",
    ]
    assert directory_role(member_of, groups, "readonly") == rbac.ADMIN
    assert directory_role(["cn=other,dc=example,dc=org"], groups, "operator") == (
        rbac.OPERATOR
    )
    assert directory_role([], groups, "readonly") == rbac.READONLY


def test_normalize_dn_keeps_escaped_commas():
    assert (
        normalize_dn(r"cn=Smith\, John , dc=Example") == r"cn=smith\, john,dc=example"
    )


# Sessions through real gRPC calls.


async def test_access_token_names_its_session(hub_server):
    async with await connect_api(hub_server) as channel:
        api = Api(channel)
        login = await api.login()
        sid = _claims(login.access_token)["sid"]
        assert sid == _claims(login.refresh_token)["fam"]
        refreshed = await _refresh(api, login.refresh_token)
        assert _claims(refreshed.access_token)["sid"] == sid
        assert _claims(refreshed.refresh_token)["fam"] == sid


async def test_logout_ends_access_tokens_at_once(hub_server):
    async with await connect_api(hub_server) as channel:
        api = Api(channel)
        first = await api.login()
        refreshed = await _refresh(api, first.refresh_token)
        other = await api.login()
        await _list_clients(api, refreshed.access_token)

        logout = await _logout(api, refreshed.refresh_token)
        assert logout.revoked

        for token in (first.access_token, refreshed.access_token):
            error = await rpc_error(_list_clients(api, token))
            assert error.code() == Code.UNAUTHENTICATED
            assert "session ended" in error.details()
        error = await rpc_error(_refresh(api, refreshed.refresh_token))
        assert error.code() == Code.UNAUTHENTICATED
        # The user's other session goes on.
        assert (await _list_clients(api, other.access_token)).total == 0
        again = await _logout(api, refreshed.refresh_token)
        assert not again.revoked

    entries = _audit(hub_server)
    revoked = [e for e in entries if e["action"] == "session_revoked"]
    assert [e["details"]["reason"] for e in revoked] == ["logout"]
    assert revoked[0]["target"] == _claims(first.access_token)["sid"]


async def test_refresh_reuse_ends_access_tokens(hub_server):
    async with await connect_api(hub_server) as channel:
        api = Api(channel)
        first = await api.login()
        second = await _refresh(api, first.refresh_token)
        await _list_clients(api, second.access_token)
        reuse = await rpc_error(_refresh(api, first.refresh_token))
        assert reuse.code() == Code.UNAUTHENTICATED
        error = await rpc_error(_list_clients(api, second.access_token))
        assert error.code() == Code.UNAUTHENTICATED
        error = await rpc_error(_refresh(api, second.refresh_token))
        assert error.code() == Code.UNAUTHENTICATED


async def test_session_limit_revokes_oldest(hub_factory):
    server = await hub_factory(authentication={"session": {"max_concurrent": 2}})
    async with await connect_api(server) as channel:
        api = Api(channel)
        logins = [await api.login() for _ in range(3)]
        oldest, *kept = logins

        error = await rpc_error(_list_clients(api, oldest.access_token))
        assert error.code() == Code.UNAUTHENTICATED
        error = await rpc_error(_refresh(api, oldest.refresh_token))
        assert error.code() == Code.UNAUTHENTICATED
        for login in kept:
            assert (await _list_clients(api, login.access_token)).total == 0

        # Refreshing keeps a session, so it does not count as a new one.
        refreshed = await _refresh(api, kept[0].refresh_token)
        assert (await _list_clients(api, refreshed.access_token)).total == 0
        assert (await _list_clients(api, kept[1].access_token)).total == 0

        # Another user's logins do not count against this user.
        await add_user(server, "default", "viewer", rbac.READONLY)
        for _ in range(2):
            await api.login("viewer", "pw-viewer")
        assert (await _list_clients(api, kept[1].access_token)).total == 0

    revoked = [e for e in _audit(server) if e["action"] == "session_revoked"]
    assert len(revoked) == 1
    assert revoked[0]["details"]["reason"] == "max_concurrent"
    assert revoked[0]["target"] == _claims(oldest.access_token)["sid"]
    assert revoked[0]["kind"] == "authentication"


async def test_revoked_sessions_survive_restart(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    config = local_hub_config(tmp_path)
    server = HubServer(config)
    await server.start()
    try:
        async with await connect_api(server) as channel:
            api = Api(channel)
            ended = await api.login()
            live = await api.login()
            await _logout(api, ended.refresh_token)
    finally:
        await server.stop(grace=0.5)

    server = HubServer(config)
    await server.start()
    try:
        assert len(server.hub.tokens.revocations) == 1
        async with await connect_api(server) as channel:
            api = Api(channel)
            error = await rpc_error(_list_clients(api, ended.access_token))
            assert error.code() == Code.UNAUTHENTICATED
            assert "session ended" in error.details()
            assert (await _list_clients(api, live.access_token)).total == 0
    finally:
        await server.stop(grace=0.5)


@pytest.mark.parametrize(
    ("stored", "rbac_section", "expected"),
    [
        (rbac.READONLY, {"admin_users": ["viewer"]}, rbac.ADMIN),
        (rbac.READONLY, {"super_admin_users": ["VIEWER"]}, rbac.SUPERADMIN),
        (rbac.OPERATOR, {}, rbac.OPERATOR),
        (rbac.SUPERADMIN, {"admin_users": ["viewer"]}, rbac.SUPERADMIN),
    ],
)
async def test_listed_users_get_role_at_login(
    hub_factory, stored, rbac_section, expected
):
    server = await hub_factory(authorization={"rbac": rbac_section})
    await add_user(server, "default", "viewer", stored)
    async with await connect_api(server) as channel:
        api = Api(channel)
        login = await api.login("viewer", "pw-viewer")
        assert login.user.role == expected
        assert _claims(login.access_token)["role"] == expected
        refreshed = await _refresh(api, login.refresh_token)
        assert refreshed.user.role == expected
    # The listed role is granted at login; the stored role stays as it was.
    user = await server.hub.store.get_user("default", "viewer")
    assert user.role == stored


async def test_listed_admin_may_call_admin_rpc(hub_factory):
    server = await hub_factory(authorization={"rbac": {"admin_users": ["viewer"]}})
    await add_user(server, "default", "viewer", rbac.READONLY)
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login("viewer", "pw-viewer")
        added = await api.clients.AddClient(
            client_pb2.AddClientRequest(name="c1", host="h1"), metadata=api.metadata
        )
        assert added.client.name == "c1"
