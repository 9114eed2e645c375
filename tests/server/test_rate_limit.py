"""Rate limits of a real in-process hub on the gRPC API port, in memory and in
the Redis at 127.0.0.1:6379."""

import logging
import socket
import stat
import uuid

import grpc
import pytest
import redis.asyncio as redis_asyncio
from prometheus_client import REGISTRY

from ris.v1 import auth_pb2, client_pb2, system_pb2
from ris_server.client_address import (
    CLIENT_ADDRESS_KEY,
    EDGE_SIGNATURE_KEY,
    sign_client_address,
)
from ris_server.ratelimit import BucketSpec
from ris_server.ratelimit_redis import RedisBuckets
from tests.server.conftest import connect_api
from tests.support import Api

Code = grpc.StatusCode
REDIS_URI = "redis://127.0.0.1:6379/0"


def limits(**settings) -> dict:
    """Config sections with rate limits on: bursts of 3, one token per 60 s,
    so no bucket refills while a test runs."""
    rate_limiting = {
        "enabled": True,
        "requests_per_minute": 1,
        "burst_size": 3,
        **settings,
    }
    return {"security": {"rate_limiting": rate_limiting}}


def empty_refresh(api: Api, metadata=()):
    """Start a public call that the hub rejects as invalid once admitted."""
    return api.auth.Refresh(auth_pb2.RefreshRequest(), metadata=metadata)


async def public_call(api: Api, metadata=()) -> grpc.StatusCode:
    """Make a public call; return OK when the rate limit admitted it."""
    try:
        await empty_refresh(api, metadata)
    except grpc.aio.AioRpcError as error:
        if error.code() == Code.INVALID_ARGUMENT:
            return Code.OK
        return error.code()
    return Code.OK


async def limited_error(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == Code.RESOURCE_EXHAUSTED
    return info.value


def retry_after(error: grpc.aio.AioRpcError) -> int:
    trailers = dict(error.trailing_metadata() or ())
    return int(trailers["retry-after"])


def counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_public_rpc_burst_then_rejected(hub_factory):
    server = await hub_factory(**limits())
    async with await connect_api(server) as channel:
        api = Api(channel)
        for _ in range(3):
            assert await public_call(api) == Code.OK
        error = await limited_error(empty_refresh(api))
    assert "rate limit exceeded" in error.details()
    # An empty bucket gains its next token within 60 s at 1 per minute.
    assert 1 <= retry_after(error) <= 60


async def test_health_probes_never_limited(hub_factory):
    server = await hub_factory(**limits())
    async with await connect_api(server) as channel:
        api = Api(channel)
        for _ in range(3):
            await public_call(api)
        limited = await public_call(api)
        reports = [
            await api.system.GetHealth(system_pb2.GetHealthRequest()) for _ in range(10)
        ]

    assert limited == Code.RESOURCE_EXHAUSTED
    assert {report.status for report in reports} == {"healthy"}


async def test_rejections_counted_and_logged_once(hub_factory, caplog):
    server = await hub_factory(**limits())
    before = counter("ris_rate_limited_requests_total", bucket="address")
    async with await connect_api(server) as channel:
        api = Api(channel)
        with caplog.at_level(logging.INFO, logger="ris_server.request_limits"):
            codes = [await public_call(api) for _ in range(13)]
    assert codes.count(Code.OK) == 3
    assert codes.count(Code.RESOURCE_EXHAUSTED) == 10
    after = counter("ris_rate_limited_requests_total", bucket="address")
    assert after - before == 10
    lines = [r for r in caplog.records if "rate limit reached" in r.getMessage()]
    assert len(lines) == 1
    assert "addr:127.0.0.1" in lines[0].getMessage()


async def test_disabled_limits_allow_bursts(hub_factory):
    server = await hub_factory(**limits(enabled=False))
    async with await connect_api(server) as channel:
        api = Api(channel)
        codes = [await public_call(api) for _ in range(10)]
    assert codes == [Code.OK] * 10


async def test_whitelisted_address_exempt(hub_factory):
    server = await hub_factory(**limits(ip_whitelist=["10.0.0.0/8", "127.0.0.0/8"]))
    async with await connect_api(server) as channel:
        api = Api(channel)
        codes = [await public_call(api) for _ in range(10)]
    assert codes == [Code.OK] * 10


async def test_bad_token_flood_limited_by_address(hub_factory):
    server = await hub_factory(**limits())
    metadata = (("authorization", "Bearer not-a-token"),)
    async with await connect_api(server) as channel:
        api = Api(channel)
        request = client_pb2.ListClientsRequest()
        for _ in range(3):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await api.clients.ListClients(request, metadata=metadata)
            assert info.value.code() == Code.UNAUTHENTICATED
        await limited_error(api.clients.ListClients(request, metadata=metadata))


async def test_principal_limit_holds_across_addresses(hub_factory):
    # The test client's peer, 127.0.0.1, is a trusted proxy, so each call
    # below comes from another forwarded address with a bucket of its own.
    server = await hub_factory(**limits(trusted_proxies=["127.0.0.1"]))
    before = counter("ris_rate_limited_requests_total", bucket="principal")
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login()
        request = client_pb2.ListClientsRequest()
        for index in range(3):
            metadata = (*api.metadata, ("x-forwarded-for", f"198.51.100.{index}"))
            await api.clients.ListClients(request, metadata=metadata)
        metadata = (*api.metadata, ("x-forwarded-for", "198.51.100.99"))
        error = await limited_error(api.clients.ListClients(request, metadata=metadata))
        # The fresh address still has its tokens, so public calls from it pass.
        assert (
            await public_call(api, (("x-forwarded-for", "198.51.100.99"),)) == Code.OK
        )
    assert 1 <= retry_after(error) <= 60
    after = counter("ris_rate_limited_requests_total", bucket="principal")
    assert after - before == 1


async def test_forwarded_for_ignored_from_untrusted_peer(hub_factory):
    server = await hub_factory(**limits())
    async with await connect_api(server) as channel:
        api = Api(channel)
        codes = [
            await public_call(api, (("x-forwarded-for", f"198.51.100.{index}"),))
            for index in range(6)
        ]
    assert codes == [Code.OK] * 3 + [Code.RESOURCE_EXHAUSTED] * 3


async def test_trusted_proxy_gives_each_client_a_bucket(hub_factory):
    server = await hub_factory(**limits(trusted_proxies=["127.0.0.0/8"]))
    async with await connect_api(server) as channel:
        api = Api(channel)
        fresh = [
            await public_call(api, (("x-forwarded-for", f"198.51.100.{index}"),))
            for index in range(8)
        ]
        same = [
            await public_call(api, (("x-forwarded-for", "203.0.113.1"),))
            for _ in range(5)
        ]
    assert fresh == [Code.OK] * 8
    assert same == [Code.OK] * 3 + [Code.RESOURCE_EXHAUSTED] * 2


def edge_metadata(key: bytes, address: str, signed_for: str | None = None):
    signature = sign_client_address(key, signed_for or address)
    return ((CLIENT_ADDRESS_KEY, address), (EDGE_SIGNATURE_KEY, signature))


async def test_forged_edge_address_ignored(hub_factory):
    server = await hub_factory(**limits())
    wrong_key = bytes(32)
    async with await connect_api(server) as channel:
        api = Api(channel)
        forged = [
            await public_call(api, edge_metadata(wrong_key, f"198.51.100.{index}"))
            for index in range(5)
        ]
        unsigned = await public_call(api, ((CLIENT_ADDRESS_KEY, "198.51.100.50"),))
    assert forged == [Code.OK] * 3 + [Code.RESOURCE_EXHAUSTED] * 2
    assert unsigned == Code.RESOURCE_EXHAUSTED


async def test_signed_edge_address_used(hub_factory):
    server = await hub_factory(**limits())
    key_path = server.config.data_dir / "edge.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = key_path.read_bytes()
    async with await connect_api(server) as channel:
        api = Api(channel)
        fresh = [
            await public_call(api, edge_metadata(key, f"198.51.100.{index}"))
            for index in range(8)
        ]
        same = [
            await public_call(api, edge_metadata(key, "203.0.113.1")) for _ in range(4)
        ]
        # A signature for one address does not vouch for another.
        replayed = await public_call(
            api, edge_metadata(key, "203.0.113.2", signed_for="203.0.113.1")
        )
    assert fresh == [Code.OK] * 8
    assert same == [Code.OK] * 3 + [Code.RESOURCE_EXHAUSTED]
    # Unverified, the call counts against the peer 127.0.0.1, which has
    # made no call of its own yet.
    assert replayed == Code.OK


async def test_agent_port_not_limited(hub_factory):
    server = await hub_factory(**limits())
    hub = server.hub
    cert, key = hub.ca.issue_client_keypair("default", "agent-1", "agent-host", 1)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=hub.ca.ca_pem, private_key=key, certificate_chain=cert
    )
    async with grpc.aio.secure_channel(hub.endpoints.agent, credentials) as channel:
        agent_api = Api(channel)
        agent_codes = [await public_call(agent_api) for _ in range(8)]
    async with await connect_api(server) as channel:
        api = Api(channel)
        api_codes = [await public_call(api) for _ in range(4)]
    assert agent_codes == [Code.OK] * 8
    assert api_codes == [Code.OK] * 3 + [Code.RESOURCE_EXHAUSTED]


# Redis -----------------------------------------------------------------------


@pytest.fixture
async def redis_prefix():
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"ris-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis_asyncio.Redis.from_url(REDIS_URI)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def redis_limits(uri: str, prefix: str, **settings) -> dict:
    sections = limits(redis_key_prefix=prefix, **settings)
    sections["database"] = {"redis": {"uri": uri}}
    return sections


async def test_redis_budget_shared_by_two_hubs(hub_factory, redis_prefix):
    first = await hub_factory(**redis_limits(REDIS_URI, redis_prefix))
    second = await hub_factory(**redis_limits(REDIS_URI, redis_prefix))
    async with (
        await connect_api(first) as first_channel,
        await connect_api(second) as second_channel,
    ):
        first_api, second_api = Api(first_channel), Api(second_channel)
        codes = [
            await public_call(first_api),
            await public_call(second_api),
            await public_call(first_api),
        ]
        error = await limited_error(empty_refresh(second_api))
        assert await public_call(first_api) == Code.RESOURCE_EXHAUSTED
    assert codes == [Code.OK] * 3
    assert 1 <= retry_after(error) <= 60
    client = redis_asyncio.Redis.from_url(REDIS_URI)
    try:
        keys = [key async for key in client.scan_iter(match=redis_prefix + "*")]
        assert keys == [f"{redis_prefix}addr:127.0.0.1".encode()]
        ttl_ms = await client.pttl(keys[0])
    finally:
        await client.aclose()
    # A bucket expires a little after it would be full again: 3 tokens at
    # one per minute take 180 s.
    assert 100_000 < ttl_ms <= 181_000


async def test_redis_principal_bucket_shared(hub_factory, redis_prefix):
    sections = redis_limits(REDIS_URI, redis_prefix, ip_whitelist=["127.0.0.0/8"])
    # One JWT secret, so that the second hub accepts the first hub's tokens.
    sections["authentication"] = {"jwt": {"secret": uuid.uuid4().hex * 2}}
    first = await hub_factory(**sections)
    second = await hub_factory(**sections)
    request = client_pb2.ListClientsRequest()
    async with (
        await connect_api(first) as first_channel,
        await connect_api(second) as second_channel,
    ):
        first_api = Api(first_channel)
        await first_api.login()
        second_api = Api(second_channel, first_api.metadata)
        await first_api.clients.ListClients(request, metadata=first_api.metadata)
        await second_api.clients.ListClients(request, metadata=second_api.metadata)
        await first_api.clients.ListClients(request, metadata=first_api.metadata)
        await limited_error(
            second_api.clients.ListClients(request, metadata=second_api.metadata)
        )


async def test_redis_rejected_call_takes_no_token(redis_prefix):
    spec = BucketSpec.per_minute(1, 2)
    buckets = RedisBuckets.from_url(REDIS_URI, spec, redis_prefix)
    try:
        assert (await buckets.take(["b"])).allowed
        assert (await buckets.take(["b"])).allowed
        for _ in range(3):
            decision = await buckets.take(["a", "b"])
            assert not decision.allowed
            assert decision.limited_key == "b"
            assert 1 < decision.retry_after <= 60
        assert (await buckets.take(["a"])).allowed
        assert (await buckets.take(["a"])).allowed
        assert not (await buckets.take(["a"])).allowed
    finally:
        await buckets.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_redis_down_fails_open(hub_factory, caplog):
    uri = f"redis://127.0.0.1:{closed_port()}/0"
    server = await hub_factory(**redis_limits(uri, "ris-test-down:"))
    before = counter("ris_rate_limit_backend_errors_total")
    async with await connect_api(server) as channel:
        api = Api(channel)
        with caplog.at_level(logging.WARNING, logger="ris_server.ratelimit_redis"):
            codes = [await public_call(api) for _ in range(6)]
    assert codes == [Code.OK] * 6
    assert counter("ris_rate_limit_backend_errors_total") - before == 6
    warnings = [r for r in caplog.records if "rate limit store" in r.getMessage()]
    assert len(warnings) == 1


async def test_redis_silent_fails_open(hub_factory):
    # A listening socket that never accepts: connections open, replies never come.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        uri = f"redis://127.0.0.1:{port}/0"
        server = await hub_factory(**redis_limits(uri, "ris-test-silent:"))
        before = counter("ris_rate_limit_backend_errors_total")
        async with await connect_api(server) as channel:
            api = Api(channel)
            codes = [await public_call(api) for _ in range(4)]
    assert codes == [Code.OK] * 4
    assert counter("ris_rate_limit_backend_errors_total") - before == 4


async def test_login_limited_by_address(hub_factory):
    server = await hub_factory(**limits())
    async with await connect_api(server) as channel:
        api = Api(channel)
        for _ in range(3):
            await api.login()
        error = await limited_error(api.login())
    assert 1 <= retry_after(error) <= 60
