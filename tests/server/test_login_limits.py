"""Failed-login limiting: the pure counter, then real logins through gRPC."""

import json
from ipaddress import ip_address

import grpc
import pytest
from grpc import StatusCode as Code

from ris.v1 import auth_pb2
from ris_server.client_address import (
    CLIENT_ADDRESS_KEY,
    EDGE_SIGNATURE_KEY,
    sign_client_address,
)
from ris_server.login_limits import (
    NAME_CAP_FACTOR,
    WINDOW,
    LoginAttempt,
    LoginFailureLimiter,
    LoginLimits,
    limit_key,
)
from tests.server.conftest import connect_api
from tests.server.test_api import add_user, rpc_error
from tests.support import ADMIN_PASSWORD, Api

KEY = ("default", "alice")


def test_limiter_rejects_after_limit():
    limiter = LoginFailureLimiter(3)
    assert limiter.start_attempt(KEY, 100.0) is None
    assert limiter.start_attempt(KEY, 110.0) is None
    assert limiter.start_attempt(KEY, 120.0) is None
    assert limiter.start_attempt(KEY, 130.0) == pytest.approx(30.0)
    assert limiter.failures(KEY, 130.0) == 3


def test_limiter_window_slides():
    limiter = LoginFailureLimiter(2)
    limiter.start_attempt(KEY, 0.0)
    limiter.start_attempt(KEY, 30.0)
    assert limiter.start_attempt(KEY, 59.0) == pytest.approx(1.0)
    # The first attempt leaves the window at 60 s; the second still counts.
    assert limiter.start_attempt(KEY, WINDOW) is None
    assert limiter.start_attempt(KEY, WINDOW + 1) == pytest.approx(29.0)


def test_limiter_rejection_is_not_counted():
    limiter = LoginFailureLimiter(1)
    limiter.start_attempt(KEY, 0.0)
    for second in range(1, 60):
        assert limiter.start_attempt(KEY, float(second)) is not None
    assert limiter.start_attempt(KEY, 60.0) is None


def test_limiter_success_clears_count():
    limiter = LoginFailureLimiter(2)
    limiter.start_attempt(KEY, 0.0)
    limiter.start_attempt(KEY, 1.0)
    limiter.finish_success(KEY)
    assert limiter.failures(KEY, 2.0) == 0
    assert limiter.start_attempt(KEY, 2.0) is None


def test_limiter_cancel_uncounts_one_attempt():
    limiter = LoginFailureLimiter(2)
    limiter.start_attempt(KEY, 0.0)
    limiter.start_attempt(KEY, 1.0)
    limiter.cancel_attempt(KEY, 1.0)
    assert limiter.failures(KEY, 2.0) == 1
    assert limiter.start_attempt(KEY, 2.0) is None
    limiter.cancel_attempt(("default", "nobody"), 2.0)
    assert len(limiter) == 1


def test_limiter_keys_are_separate():
    limiter = LoginFailureLimiter(1)
    limiter.start_attempt(KEY, 0.0)
    assert limiter.start_attempt(("default", "bob"), 0.0) is None
    assert limiter.start_attempt(("other", "alice"), 0.0) is None
    assert limiter.start_attempt(KEY, 0.0) is not None


def test_limit_key_folds_case_and_truncates():
    assert limit_key("default", "Alice") == limit_key("default", "ALICE")
    assert len(limit_key("t" * 500, "u" * 5000)[1]) == 256
    assert len(limit_key("t" * 500, "u")[0]) == 128


def test_limiter_memory_is_bounded():
    limiter = LoginFailureLimiter(5, max_keys=100)
    for index in range(1000):
        limiter.start_attempt(("default", f"user-{index}"), 10.0)
        limiter.start_attempt(("default", f"user-{index}"), 10.0)
    assert len(limiter) == 100
    # The newest names are kept; the oldest were evicted.
    assert limiter.failures(("default", "user-999"), 10.0) == 2
    assert limiter.failures(("default", "user-0"), 10.0) == 0


def test_limiter_drops_stale_keys():
    limiter = LoginFailureLimiter(5)
    for index in range(50):
        limiter.start_attempt(("default", f"user-{index}"), float(index))
    limiter.start_attempt(KEY, 200.0)
    assert len(limiter) == 1


def test_limiter_rejects_bad_settings():
    with pytest.raises(ValueError):
        LoginFailureLimiter(0)
    with pytest.raises(ValueError):
        LoginFailureLimiter(1, max_keys=0)


def _attempt(address: str | None, started: float, name: str = "alice"):
    return LoginAttempt.of(
        "default", name, ip_address(address) if address else None, started
    )


def test_limits_count_each_address_apart():
    limits = LoginLimits(2)
    for started in (0.0, 1.0):
        assert limits.start_attempt(_attempt("198.51.100.1", started)) is None
    assert limits.start_attempt(_attempt("198.51.100.1", 2.0)) is not None
    assert limits.start_attempt(_attempt("198.51.100.2", 2.0)) is None
    assert limits.start_attempt(_attempt(None, 2.0)) is None
    assert limits.failures(_attempt("198.51.100.1", 3.0), 3.0) == (2, 4)


def test_limits_cap_name_over_addresses():
    limits = LoginLimits(1)
    cap = NAME_CAP_FACTOR
    for index in range(cap):
        assert limits.start_attempt(_attempt(f"198.51.100.{index}", 0.0)) is None
    fresh = _attempt("203.0.113.9", 1.0)
    assert limits.start_attempt(fresh) is not None
    # The rejected attempt is not counted for its address.
    assert limits.failures(fresh, 1.0) == (0, cap)
    assert limits.start_attempt(_attempt("203.0.113.9", 1.0, "bob")) is None


def test_limits_success_clears_name_and_address():
    limits = LoginLimits(2)
    first = _attempt("198.51.100.1", 0.0)
    limits.start_attempt(first)
    limits.start_attempt(_attempt("198.51.100.2", 0.0))
    limits.finish_success(first)
    assert limits.failures(first, 1.0) == (0, 0)


def test_limits_memory_is_bounded():
    limits = LoginLimits(5, max_keys=100)
    for index in range(1000):
        limits.start_attempt(_attempt(f"10.0.{index // 250}.{index % 250}", 1.0))
        limits.start_attempt(_attempt("198.51.100.1", 1.0, f"user-{index}"))
    assert len(limits.by_address) == 100
    assert len(limits.by_name) == 100 // NAME_CAP_FACTOR


def _retry_after(error) -> int:
    values = [v for k, v in error.trailing_metadata() or () if k == "retry-after"]
    assert len(values) == 1
    return int(values[0])


LIMITED = {"security": {"rate_limiting": {"login_failures_per_minute": 3}}}


async def test_login_limited_after_failures(hub_factory):
    server = await hub_factory(**LIMITED)
    async with await connect_api(server) as channel:
        api = Api(channel)
        for _ in range(3):
            error = await rpc_error(api.login("admin", "wrong-password"))
            assert error.code() == Code.UNAUTHENTICATED
        # Even the right password is not checked now.
        limited = await rpc_error(api.login("admin", ADMIN_PASSWORD))
        assert limited.code() == Code.RESOURCE_EXHAUSTED
        assert "too many failed logins" in limited.details()
        assert 1 <= _retry_after(limited) <= 60

        # Another user, and the same name in another tenant, are not limited.
        other = await rpc_error(api.login("someone-else", "wrong-password"))
        assert other.code() == Code.UNAUTHENTICATED
        other_tenant = await rpc_error(api.login("admin", "x", "other-tenant"))
        assert other_tenant.code() == Code.UNAUTHENTICATED


async def test_login_limit_same_for_unknown_user(hub_factory):
    server = await hub_factory(**LIMITED)
    async with await connect_api(server) as channel:
        api = Api(channel)
        replies = {}
        for username in ("admin", "no-such-user"):
            for _ in range(3):
                await rpc_error(api.login(username, "wrong-password"))
            error = await rpc_error(api.login(username, "wrong-password"))
            replies[username] = error
        known, unknown = replies["admin"], replies["no-such-user"]
        assert known.code() == unknown.code() == Code.RESOURCE_EXHAUSTED
        # The message differs only in the seconds to wait.
        assert known.details().split(" in ")[0] == unknown.details().split(" in ")[0]
        assert abs(_retry_after(known) - _retry_after(unknown)) <= 1


async def test_login_limit_folds_username_case(hub_factory):
    server = await hub_factory(**LIMITED)
    async with await connect_api(server) as channel:
        api = Api(channel)
        for name in ("admin", "Admin", "ADMIN"):
            await rpc_error(api.login(name, "wrong-password"))
        limited = await rpc_error(api.login("admin", ADMIN_PASSWORD))
        assert limited.code() == Code.RESOURCE_EXHAUSTED


async def test_successful_login_clears_failures(hub_factory):
    server = await hub_factory(**LIMITED)
    await add_user(server, "default", "viewer", 1)
    async with await connect_api(server) as channel:
        api = Api(channel)
        for _ in range(2):
            await rpc_error(api.login("viewer", "wrong-password"))
        await api.login("viewer", "pw-viewer")
        for _ in range(2):
            await rpc_error(api.login("viewer", "wrong-password"))
        response = await api.login("viewer", "pw-viewer")
        assert response.access_token


async def test_login_limit_rejections_audited(hub_factory):
    server = await hub_factory(**LIMITED)
    async with await connect_api(server) as channel:
        api = Api(channel)
        for _ in range(3):
            await rpc_error(api.login("admin", "wrong-password-1"))
        for _ in range(2):
            await rpc_error(api.login("admin", "secret-guess-2"))
    text = (server.config.data_dir / "audit.log").read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    limited = [e for e in entries if e["action"] == "login_rate_limited"]
    assert len(limited) == 2
    assert all(e["kind"] == "authentication" for e in limited)
    assert all(e["outcome"] == "failure" for e in limited)
    assert all(e["target"] == "admin" for e in limited)
    assert all(1 <= e["details"]["retry_after"] <= 60 for e in limited)
    assert "wrong-password-1" not in text
    assert "secret-guess-2" not in text


def _from(server, address: str) -> tuple:
    """Metadata that makes a call come from `address`, signed as the REST
    edge signs it."""
    key = (server.config.data_dir / "edge.key").read_bytes()
    return (
        (CLIENT_ADDRESS_KEY, address),
        (EDGE_SIGNATURE_KEY, sign_client_address(key, address)),
    )


async def _login_code(api: Api, server, address: str, password: str) -> Code:
    try:
        await api.auth.Login(
            auth_pb2.LoginRequest(username="admin", password=password),
            metadata=_from(server, address),
        )
    except grpc.aio.AioRpcError as error:
        return error.code()
    return Code.OK


async def test_flood_from_one_address_spares_others(hub_factory):
    server = await hub_factory(**LIMITED)
    async with await connect_api(server) as channel:
        api = Api(channel)
        flood = [
            await _login_code(api, server, "203.0.113.1", "wrong-password")
            for _ in range(6)
        ]
        other = await _login_code(api, server, "203.0.113.2", ADMIN_PASSWORD)
        flooded = await _login_code(api, server, "203.0.113.1", ADMIN_PASSWORD)
    assert flood == [Code.UNAUTHENTICATED] * 3 + [Code.RESOURCE_EXHAUSTED] * 3
    assert other == Code.OK
    assert flooded == Code.RESOURCE_EXHAUSTED


async def test_name_cap_over_all_addresses(hub_factory):
    server = await hub_factory(
        security={"rate_limiting": {"login_failures_per_minute": 1}}
    )
    async with await connect_api(server) as channel:
        api = Api(channel)
        spread = [
            await _login_code(api, server, f"198.51.100.{index}", "wrong-password")
            for index in range(NAME_CAP_FACTOR)
        ]
        fresh = await _login_code(api, server, "203.0.113.7", ADMIN_PASSWORD)
    assert spread == [Code.UNAUTHENTICATED] * NAME_CAP_FACTOR
    assert fresh == Code.RESOURCE_EXHAUSTED
