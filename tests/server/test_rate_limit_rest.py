"""Rate limits and CORS through the REST edge of a real hub.

HTTP clients bind distinct loopback addresses (127.0.0.2, 127.0.0.3, ...), so
each reaches the edge from its own peer address within 127.0.0.0/8.
"""

import ssl
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest

from ris_edge.main import build_parser, settings_from_args
from ris_edge.serving import EdgeServer
from ris_server.app import HubServer
from ris_server.bootstrap import PASSWORD_ENV
from tests.server.test_rate_limit import limits
from tests.support import ADMIN_PASSWORD, local_hub_config

# A route that needs a token: without one the hub returns UNAUTHENTICATED
# (HTTP 401) until the rate limit returns RESOURCE_EXHAUSTED (HTTP 429).
GUARDED_PATH = "/platform/v1/task/t1"
ALLOWED_ORIGIN = "http://127.0.0.1:3000"


@pytest.fixture
async def edge_hub_factory(tmp_path, monkeypatch):
    """Start hubs on 127.0.0.1 port 0 with the in-process REST edge on."""
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    servers: list[HubServer] = []

    async def start(edge_enabled: bool = True, **sections) -> HubServer:
        config = local_hub_config(
            tmp_path / f"hub{len(servers)}", edge=edge_enabled, **sections
        )
        server = HubServer(config)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop(grace=0.5)


@asynccontextmanager
async def rest_client(base_url: str, ca_pem: bytes, source: str):
    """An HTTPS client of the edge whose connections come from `source`."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    transport = httpx.AsyncHTTPTransport(local_address=source, verify=context)
    async with httpx.AsyncClient(
        base_url=base_url, transport=transport, timeout=30
    ) as client:
        yield client


async def statuses(client: httpx.AsyncClient, count: int, forwarded=None) -> list:
    """GET the guarded route `count` times; `forwarded(i)` sets X-Forwarded-For."""
    results = []
    for index in range(count):
        headers = {"X-Forwarded-For": forwarded(index)} if forwarded else {}
        response = await client.get(GUARDED_PATH, headers=headers)
        results.append(response.status_code)
    return results


async def test_rest_limited_with_retry_after(edge_hub_factory):
    server = await edge_hub_factory(**limits())
    hub = server.hub
    async with rest_client(hub.endpoints.edge, hub.ca.ca_pem, "127.0.0.2") as client:
        assert await statuses(client, 3) == [401] * 3
        response = await client.get(GUARDED_PATH)
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "RESOURCE_EXHAUSTED"


async def test_rest_fresh_forwarded_for_still_limited(edge_hub_factory):
    server = await edge_hub_factory(**limits())
    hub = server.hub
    async with rest_client(hub.endpoints.edge, hub.ca.ca_pem, "127.0.0.2") as client:
        codes = await statuses(client, 10, forwarded=lambda i: f"198.51.100.{i}")
    assert codes == [401] * 3 + [429] * 7


async def test_rest_clients_have_own_buckets(edge_hub_factory):
    server = await edge_hub_factory(**limits())
    hub = server.hub
    edge, ca_pem = hub.endpoints.edge, hub.ca.ca_pem
    async with rest_client(edge, ca_pem, "127.0.0.2") as first:
        first_codes = await statuses(first, 4)
    async with rest_client(edge, ca_pem, "127.0.0.3") as second:
        second_codes = await statuses(second, 4)
    assert first_codes == [401] * 3 + [429]
    assert second_codes == [401] * 3 + [429]


async def test_rest_trusted_proxy_forwarded_buckets(edge_hub_factory):
    server = await edge_hub_factory(**limits(trusted_proxies=["127.0.0.2"]))
    hub = server.hub
    async with rest_client(hub.endpoints.edge, hub.ca.ca_pem, "127.0.0.2") as proxy:
        fresh = await statuses(proxy, 8, forwarded=lambda i: f"198.51.100.{i}")
        same = await statuses(proxy, 4, forwarded=lambda i: "203.0.113.1")
    assert fresh == [401] * 8
    assert same == [401] * 3 + [429]


async def test_rest_untrusted_client_cannot_claim_proxy_role(edge_hub_factory):
    server = await edge_hub_factory(**limits(trusted_proxies=["127.0.0.2"]))
    hub = server.hub
    async with rest_client(hub.endpoints.edge, hub.ca.ca_pem, "127.0.0.3") as client:
        codes = await statuses(client, 5, forwarded=lambda i: f"198.51.100.{i}")
    assert codes == [401] * 3 + [429] * 2


async def start_standalone_edge(server: HubServer, *extra: str) -> EdgeServer:
    """Start the edge from `ris-edge` arguments, as a separate deployment would."""
    hub = server.hub
    parser = build_parser()
    args = parser.parse_args(
        [
            "--backend",
            hub.endpoints.grpc,
            "--ca-file",
            str(hub.ca.ca_cert_path),
            "--server-name",
            "localhost",
            *extra,
        ]
    )
    settings = settings_from_args(parser, args)
    return await EdgeServer.start(settings, host="127.0.0.1", port=0)


async def test_standalone_edge_with_key_file(edge_hub_factory):
    server = await edge_hub_factory(edge_enabled=False, **limits())
    key_file = server.config.data_dir / "edge.key"
    edge = await start_standalone_edge(server, "--edge-key-file", str(key_file))
    base_url = f"http://127.0.0.1:{edge.port}"
    try:
        async with httpx.AsyncClient(
            base_url=base_url,
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
        ) as first:
            first_codes = await statuses(first, 4)
        async with httpx.AsyncClient(
            base_url=base_url,
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.3"),
        ) as second:
            second_codes = await statuses(second, 1)
    finally:
        await edge.stop()
    assert first_codes == [401] * 3 + [429]
    assert second_codes == [401]


async def test_standalone_edge_without_key_shares_bucket(edge_hub_factory):
    server = await edge_hub_factory(edge_enabled=False, **limits())
    edge = await start_standalone_edge(server)
    base_url = f"http://127.0.0.1:{edge.port}"
    try:
        async with httpx.AsyncClient(
            base_url=base_url,
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
        ) as first:
            first_codes = await statuses(first, 3)
        async with httpx.AsyncClient(
            base_url=base_url,
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.3"),
        ) as second:
            second_codes = await statuses(second, 1)
    finally:
        await edge.stop()
    # Without the key every REST caller counts as the edge's own address.
    assert first_codes == [401] * 3
    assert second_codes == [429]


def test_edge_key_file_errors(tmp_path, capsys):
    parser = build_parser()
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 8)
    args = parser.parse_args(
        ["--backend", "127.0.0.1:1", "--edge-key-file", str(short)]
    )
    with pytest.raises(SystemExit):
        settings_from_args(parser, args)
    assert "contains 8 bytes, fewer than 32" in capsys.readouterr().err
    missing = tmp_path / "missing.key"
    args = parser.parse_args(
        ["--backend", "127.0.0.1:1", "--edge-key-file", str(missing)]
    )
    with pytest.raises(SystemExit):
        settings_from_args(parser, args)
    assert "cannot read --edge-key-file" in capsys.readouterr().err


def test_trusted_proxy_flag_validated(capsys):
    parser = build_parser()
    args = parser.parse_args(
        ["--backend", "127.0.0.1:1", "--trusted-proxy", "10.0.0.0/8"]
    )
    settings = settings_from_args(parser, args)
    assert settings.trusted_proxies == ("10.0.0.0/8",)
    args = parser.parse_args(["--backend", "127.0.0.1:1", "--trusted-proxy", "nope"])
    with pytest.raises(SystemExit):
        settings_from_args(parser, args)
    assert "'nope' is not an IP address or CIDR network" in capsys.readouterr().err


# CORS ------------------------------------------------------------------------


def cors_sections() -> dict:
    return {
        "server": {
            "cors": {
                "enabled": True,
                "allowed_origins": [ALLOWED_ORIGIN],
                "allowed_methods": ["GET", "POST"],
                "allowed_headers": ["Authorization", "Content-Type", "X-Trace-Tag"],
            }
        }
    }


async def preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.options(
        "/platform/v1/task/execute",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-trace-tag",
        },
    )


async def test_cors_preflight_allowed_origin(edge_hub_factory):
    server = await edge_hub_factory(**cors_sections())
    hub = server.hub
    async with rest_client(hub.endpoints.edge, hub.ca.ca_pem, "127.0.0.2") as client:
        response = await preflight(client, ALLOWED_ORIGIN)
    assert response.status_code == 200
    headers = response.headers
    assert headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    methods = {m.strip() for m in headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "POST"}
    allowed_headers = headers["access-control-allow-headers"].lower()
    assert "x-trace-tag" in allowed_headers
    assert "authorization" in allowed_headers


async def test_cors_preflight_other_origin(edge_hub_factory):
    server = await edge_hub_factory(**cors_sections())
    hub = server.hub
    origin = f"http://other-{uuid.uuid4().hex[:8]}.test"
    async with rest_client(hub.endpoints.edge, hub.ca.ca_pem, "127.0.0.2") as client:
        response = await preflight(client, origin)
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_cors_simple_request_exposes_retry_after(edge_hub_factory):
    server = await edge_hub_factory(**cors_sections())
    hub = server.hub
    async with rest_client(hub.endpoints.edge, hub.ca.ca_pem, "127.0.0.2") as client:
        allowed = await client.get(GUARDED_PATH, headers={"Origin": ALLOWED_ORIGIN})
        other = await client.get(GUARDED_PATH, headers={"Origin": "http://other.test"})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "retry-after" in allowed.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
