"""Directory login against a real slapd started for this module."""

import asyncio
import json

import jwt
import pytest
from grpc import StatusCode as Code
from ldap3 import MODIFY_DELETE, Connection, Server

from ris.v1 import auth_pb2, client_pb2, tenant_pb2
from ris_server import rbac
from ris_server.app import HubServer
from ris_server.bootstrap import PASSWORD_ENV
from ris_server.config import ConfigError, LdapConfig, load_config
from ris_server.ldap_auth import build_server, fill_filter
from ris_server.models import Tenant
from ris_server.store import open_store
from tests.server import slapd
from tests.server.conftest import connect_api
from tests.server.test_api import add_user, rpc_error
from tests.support import ADMIN_PASSWORD, Api, local_hub_config

BAD_LOGIN = "invalid username, password or tenant"


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    if not slapd.SLAPD.exists():
        pytest.skip(f"{slapd.SLAPD} is missing: install Debian's slapd package")
    server = slapd.Slapd.start(tmp_path_factory.mktemp("slapd"))
    yield server
    server.stop()


def ldap_section(url: str, **overrides) -> dict:
    section = {
        "enabled": True,
        "url": url,
        "base_dn": slapd.PEOPLE_DN,
        "bind_dn": slapd.SERVICE_DN,
        "bind_password": slapd.SERVICE_PASSWORD,
        "group_base_dn": slapd.GROUPS_DN,
        "group_roles": {
            slapd.group_dn("operators"): "operator",
            slapd.group_dn("admins"): "admin",
        },
        "timeout": "3s",
    }
    return section | overrides


async def start_hub(hub_factory, url: str, rbac_section=None, **ldap_overrides):
    sections = {"authentication": {"ldap": ldap_section(url, **ldap_overrides)}}
    if rbac_section is not None:
        sections["authorization"] = {"rbac": rbac_section}
    return await hub_factory(**sections)


@pytest.fixture
async def prepared_hub(tmp_path, monkeypatch):
    """Start hubs whose store contains extra tenants before the hub starts, since
    the directory tenant must exist at start."""
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    servers: list[HubServer] = []

    async def start(tenants: list[str], **sections) -> HubServer:
        config = local_hub_config(tmp_path / f"prepared{len(servers)}", **sections)
        config.data_dir.mkdir(mode=0o700)
        store = await open_store(config)
        try:
            for code in tenants:
                await store.create_tenant(
                    Tenant(
                        id=f"{code}-id",
                        code=code,
                        name=code.title(),
                        status=tenant_pb2.TENANT_STATUS_ACTIVE,
                    )
                )
        finally:
            await store.close()
        server = HubServer(config)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop(grace=0.5)


def password_of(uid: str) -> str:
    return slapd.USERS[uid][0]


def test_fill_filter_escapes_value():
    assert fill_filter("(uid=%s)", "alice") == "(uid=alice)"
    escaped = fill_filter("(uid=%s)", "*)(uid=*")
    assert escaped == r"(uid=\2a\29\28uid=\2a)"
    assert fill_filter("(member=%s)", "cn=a\\,b") == r"(member=cn=a\5c,b)"


async def test_group_maps_role_and_record_is_stable(directory, hub_factory):
    server = await start_hub(hub_factory, directory.url)
    async with await connect_api(server) as channel:
        api = Api(channel)
        first = await api.login("alice", password_of("alice"))
        assert first.user.role == rbac.OPERATOR
        assert first.user.tenant_code == "default"
        again = await api.login("Alice", password_of("alice"))
        assert again.user.id == first.user.id

        refreshed = await api.auth.Refresh(
            auth_pb2.RefreshRequest(refresh_token=first.refresh_token)
        )
        assert refreshed.user.role == rbac.OPERATOR
        logout = await api.auth.Logout(
            auth_pb2.LogoutRequest(refresh_token=refreshed.refresh_token)
        )
        assert logout.revoked
        error = await rpc_error(
            api.clients.ListClients(
                client_pb2.ListClientsRequest(),
                metadata=(("authorization", f"Bearer {refreshed.access_token}"),),
            )
        )
        assert error.code() == Code.UNAUTHENTICATED

    user = await server.hub.store.get_user("default", "alice")
    assert user.id == first.user.id
    assert user.external
    assert user.password_hash == ""
    assert user.role == rbac.OPERATOR
    entries = [
        json.loads(line)
        for line in (server.config.data_dir / "audit.log").read_text().splitlines()
    ]
    logins = [
        e for e in entries if e["action"] == "login" and e["outcome"] == "success"
    ]
    assert [e["details"]["method"] for e in logins] == ["ldap", "ldap"]


async def test_highest_group_role_wins(directory, hub_factory):
    server = await start_hub(hub_factory, directory.url)
    async with await connect_api(server) as channel:
        login = await Api(channel).login("bob", password_of("bob"))
        assert login.user.role == rbac.ADMIN
        assert jwt.decode(login.access_token, options={"verify_signature": False})[
            "role"
        ] == (rbac.ADMIN)


async def test_unmapped_user_gets_default_role(directory, hub_factory):
    server = await start_hub(
        hub_factory, directory.url, rbac_section={"default_role": "operator"}
    )
    async with await connect_api(server) as channel:
        login = await Api(channel).login("carol", password_of("carol"))
        assert login.user.role == rbac.OPERATOR


async def test_listed_directory_users_raised(directory, hub_factory):
    server = await start_hub(
        hub_factory,
        directory.url,
        rbac_section={
            "super_admin_users": ["dave@example.org"],
            "admin_users": ["alice", "bob"],
        },
    )
    async with await connect_api(server) as channel:
        api = Api(channel)
        dave = await api.login("dave", password_of("dave"))
        assert dave.user.role == rbac.SUPERADMIN
        alice = await api.login("alice", password_of("alice"))
        assert alice.user.role == rbac.ADMIN
        carol = await api.login("carol", password_of("carol"))
        assert carol.user.role == rbac.READONLY
        # The superadmin from the listing may call a superadmin RPC.
        api.metadata = (("authorization", f"Bearer {dave.access_token}"),)
        tenants = await api.tenants.ListTenants(
            tenant_pb2.ListTenantsRequest(), metadata=api.metadata
        )
        assert [t.code for t in tenants.tenants] == ["default"]


async def test_group_change_applies_at_next_login(directory, hub_factory):
    server = await start_hub(hub_factory, directory.url)
    async with await connect_api(server) as channel:
        api = Api(channel)
        before = await api.login("bob", password_of("bob"))
        assert before.user.role == rbac.ADMIN
        await asyncio.to_thread(
            _modify_group, directory.url, "admins", slapd.user_dn("bob"), remove=True
        )
        try:
            after = await api.login("bob", password_of("bob"))
        finally:
            await asyncio.to_thread(
                _modify_group, directory.url, "admins", slapd.user_dn("bob")
            )
        assert after.user.role == rbac.OPERATOR
        assert after.user.id == before.user.id


def _modify_group(url: str, group: str, member: str, remove: bool = False) -> None:
    from ldap3 import MODIFY_ADD

    connection = Connection(
        Server(url), slapd.ROOT_DN, slapd.ROOT_PASSWORD, auto_bind=True
    )
    try:
        change = MODIFY_DELETE if remove else MODIFY_ADD
        assert connection.modify(
            slapd.group_dn(group), {"member": [(change, [member])]}
        )
    finally:
        connection.unbind()


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong-password"),
        ("nobody", "whatever-password"),
        ("*", password_of("alice")),
        ("alice)(uid=*", password_of("alice")),
    ],
)
async def test_directory_failure_is_generic(directory, hub_factory, username, password):
    server = await start_hub(hub_factory, directory.url)
    async with await connect_api(server) as channel:
        error = await rpc_error(Api(channel).login(username, password))
        assert error.code() == Code.UNAUTHENTICATED
        assert error.details() == BAD_LOGIN
    assert await server.hub.store.get_user("default", "alice") is None


async def test_local_users_still_log_in(directory, hub_factory):
    server = await start_hub(hub_factory, directory.url)
    await add_user(server, "default", "carol", rbac.OPERATOR)
    async with await connect_api(server) as channel:
        api = Api(channel)
        admin = await api.login()
        assert admin.user.role == rbac.SUPERADMIN
        # A local user shadows the directory user of the same name.
        local = await api.login("carol", "pw-carol")
        assert local.user.role == rbac.OPERATOR
        for name in ("carol", "CAROL"):
            error = await rpc_error(api.login(name, password_of("carol")))
            assert error.code() == Code.UNAUTHENTICATED
            assert error.details() == BAD_LOGIN
    user = await server.hub.store.get_user("default", "carol")
    assert not user.external


async def test_directory_users_go_to_configured_tenant(directory, prepared_hub):
    server = await prepared_hub(
        ["corp"],
        authentication={"ldap": ldap_section(directory.url, tenant="corp")},
    )
    async with await connect_api(server) as channel:
        api = Api(channel)
        login = await api.login("alice", password_of("alice"))
        assert login.user.tenant_code == "corp"
        named = await api.login("alice", password_of("alice"), "corp")
        assert named.user.id == login.user.id
        error = await rpc_error(api.login("alice", password_of("alice"), "default"))
        assert error.code() == Code.UNAUTHENTICATED
        # The bootstrap admin of the default tenant is unaffected.
        assert (await api.login()).user.tenant_code == "default"


async def test_directory_failures_limited_in_its_tenant(directory, prepared_hub):
    server = await prepared_hub(
        ["corp"],
        authentication={"ldap": ldap_section(directory.url, tenant="corp")},
        security={"rate_limiting": {"login_failures_per_minute": 3}},
    )
    async with await connect_api(server) as channel:
        api = Api(channel)
        # Naming the tenant or leaving it out reaches one account, so both
        # count against one limit.
        for tenant in ("", "corp", ""):
            error = await rpc_error(api.login("alice", "wrong-password", tenant))
            assert error.code() == Code.UNAUTHENTICATED
        limited = await rpc_error(api.login("alice", password_of("alice"), "corp"))
        assert limited.code() == Code.RESOURCE_EXHAUSTED
        # A local user of the default tenant keeps its own count.
        assert (await api.login()).user.tenant_code == "default"


async def test_missing_directory_tenant_stops_start(directory, hub_factory):
    with pytest.raises(ConfigError) as info:
        await start_hub(hub_factory, directory.url, tenant="absent")
    assert "authentication.ldap.tenant = 'absent'" in str(info.value)
    assert "does not exist" in str(info.value)


async def test_directory_user_cannot_change_password(directory, hub_factory):
    server = await start_hub(hub_factory, directory.url)
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login("alice", password_of("alice"))
        error = await rpc_error(
            api.auth.ChangePassword(
                auth_pb2.ChangePasswordRequest(
                    current_password=password_of("alice"),
                    new_password="a-brand-new-passphrase",
                ),
                metadata=api.metadata,
            )
        )
    assert error.code() == Code.FAILED_PRECONDITION
    assert "directory" in error.details()


async def test_local_name_same_status_as_unknown(directory, hub_factory):
    server = await start_hub(hub_factory, directory.url)
    await add_user(server, "default", "alice", rbac.OPERATOR)
    async with await connect_api(server) as channel:
        api = Api(channel)
        wrong_local = await rpc_error(api.login("alice", "wrong-password"))
        unknown = await rpc_error(api.login("nobody-here", "wrong-password"))
        # The directory accepts this password for its alice, but the local
        # account of that name wins.
        directory_password = await rpc_error(api.login("alice", password_of("alice")))
        local = await api.login("alice", "pw-alice")
    for error in (wrong_local, unknown, directory_password):
        assert error.code() == Code.UNAUTHENTICATED
        assert error.details() == BAD_LOGIN
    assert local.user.role == rbac.OPERATOR
    user = await server.hub.store.get_user("default", "alice")
    assert not user.external


async def test_local_wrong_password_unavailable_when_down(hub_factory):
    url = f"ldap://127.0.0.1:{slapd.free_port()}"
    server = await hub_factory(
        authentication={"ldap": ldap_section(url, timeout="2s")},
        security={"rate_limiting": {"login_failures_per_minute": 3}},
    )
    await add_user(server, "default", "carol", rbac.OPERATOR)
    async with await connect_api(server) as channel:
        api = Api(channel)
        unknown = await rpc_error(api.login("nobody-here", "wrong-password"))
        wrong_local = [
            await rpc_error(api.login("carol", "wrong-password")) for _ in range(3)
        ]
        # The failed local passwords count although the reply was 503.
        limited = await rpc_error(api.login("carol", "pw-carol"))
    assert unknown.code() == Code.UNAVAILABLE
    assert [error.code() for error in wrong_local] == [Code.UNAVAILABLE] * 3
    assert {error.details() for error in wrong_local} == {unknown.details()}
    assert limited.code() == Code.RESOURCE_EXHAUSTED


async def test_local_login_works_when_directory_down(hub_factory):
    url = f"ldap://127.0.0.1:{slapd.free_port()}"
    server = await start_hub(hub_factory, url, timeout="2s")
    await add_user(server, "default", "carol", rbac.OPERATOR)
    async with await connect_api(server) as channel:
        login = await Api(channel).login("carol", "pw-carol")
    assert login.user.role == rbac.OPERATOR


async def test_refused_connection_is_unavailable(hub_factory):
    url = f"ldap://127.0.0.1:{slapd.free_port()}"
    server = await start_hub(
        hub_factory,
        url,
        **{"timeout": "2s"},
    )
    # The directory outage does not count as failed logins.
    async with await connect_api(server) as channel:
        api = Api(channel)
        for _ in range(6):
            error = await rpc_error(api.login("alice", "some-password"))
            assert error.code() == Code.UNAVAILABLE
            assert "directory server is unavailable" in error.details()
        assert (await api.login("admin", ADMIN_PASSWORD)).access_token


async def test_silent_directory_times_out(hub_factory):
    held: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(reader, writer):
        held.append(writer)

    listener = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        server = await start_hub(
            hub_factory, f"ldap://127.0.0.1:{port}", **{"timeout": "1s"}
        )
        async with await connect_api(server) as channel:
            error = await rpc_error(Api(channel).login("alice", "some-password"))
        assert error.code() == Code.UNAVAILABLE
        assert "directory server is unavailable" in error.details()
        assert held
    finally:
        for writer in held:
            writer.close()
        listener.close()
        await listener.wait_closed()


async def test_rejected_service_bind_is_unavailable(directory, hub_factory, caplog):
    server = await start_hub(
        hub_factory, directory.url, bind_password="not-the-reader-password"
    )
    async with await connect_api(server) as channel:
        error = await rpc_error(Api(channel).login("alice", password_of("alice")))
        assert error.code() == Code.UNAVAILABLE
    assert "rejected the service bind" in caplog.text
    audit_text = (server.config.data_dir / "audit.log").read_text()
    entry = json.loads(audit_text.splitlines()[-1])
    assert entry["details"]["reason"] == "directory_unavailable"
    for text in (caplog.text, audit_text):
        assert "not-the-reader-password" not in text
        assert password_of("alice") not in text


def _config_error(tmp_path, ldap: dict) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"authentication": {"ldap": ldap}}))
    with pytest.raises(ConfigError) as info:
        load_config(env={"CONFIG_PATH": str(path)})
    return str(info.value)


@pytest.mark.parametrize(
    ("ldap", "expected"),
    [
        (
            {"enabled": True, "url": "http://127.0.0.1", "base_dn": "dc=x"},
            "authentication.ldap.url = 'http://127.0.0.1'",
        ),
        ({"enabled": True, "base_dn": "dc=x"}, "authentication.ldap.url is required"),
        (
            {"enabled": True, "url": "ldap://127.0.0.1"},
            "authentication.ldap.base_dn is required",
        ),
        (
            {
                "enabled": True,
                "url": "ldap://127.0.0.1",
                "base_dn": "dc=x",
                "user_filter": "(uid=alice)",
            },
            "authentication.ldap.user_filter = '(uid=alice)'",
        ),
        (
            {
                "enabled": True,
                "url": "ldap://127.0.0.1",
                "base_dn": "dc=x",
                "user_filter": "(|(uid=%s)(mail=%s))",
            },
            "authentication.ldap.user_filter",
        ),
        (
            {
                "enabled": True,
                "url": "ldap://127.0.0.1",
                "base_dn": "dc=x",
                "group_filter": "member=%s",
            },
            "authentication.ldap.group_filter",
        ),
        (
            {"url": "ldaps://127.0.0.1", "start_tls": True},
            "authentication.ldap.start_tls",
        ),
        (
            {"url": "ldap://127.0.0.1", "ca_file": "/nonexistent/ca.pem"},
            "authentication.ldap.ca_file = '/nonexistent/ca.pem': file not found",
        ),
        ({"url": "ldap://127.0.0.1:99999"}, "authentication.ldap.url"),
        (
            {"enabled": True, "url": "ldap://127.0.0.1:", "base_dn": "dc=x"},
            "authentication.ldap.url = 'ldap://127.0.0.1:': invalid LDAP server",
        ),
        ({"timeout": 0}, "authentication.ldap.timeout"),
    ],
)
def test_ldap_config_checked(tmp_path, ldap, expected):
    assert expected in _config_error(tmp_path, ldap)


def test_ldap_config_error_hides_bind_password(tmp_path):
    message = _config_error(
        tmp_path,
        {
            "enabled": True,
            "url": "ftp://127.0.0.1",
            "base_dn": "dc=x",
            "bind_dn": "cn=reader",
            "bind_password": "reader-secret-value",
        },
    )
    assert "reader-secret-value" not in message


@pytest.mark.parametrize(
    "url",
    [
        "ldap://reader:url-secret-value@127.0.0.1",
        "ldaps://reader:url-secret-value@127.0.0.1:636",
        "ldap://url-secret-value@127.0.0.1:bad",
    ],
)
def test_ldap_url_with_credentials_rejected(tmp_path, url):
    message = _config_error(tmp_path, {"url": url})
    assert "authentication.ldap.url must not contain a user name or password" in (
        message
    )
    assert "url-secret-value" not in message


def test_ldap3_server_error_names_url():
    with pytest.raises(ConfigError) as info:
        build_server(LdapConfig(url="ldap://[v1.x]"))
    assert "authentication.ldap.url = 'ldap://[v1.x]'" in str(info.value)
