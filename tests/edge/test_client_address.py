"""The signed client address the edge sends to the hub, against a recording
backend."""

import pytest

from ris_edge.forwarding import backend_metadata
from ris_edge.settings import EdgeSettings
from ris_server.client_address import (
    CLIENT_ADDRESS_KEY,
    EDGE_SIGNATURE_KEY,
    parse_networks,
    sign_client_address,
    verified_edge_address,
)
from tests.edge.conftest import CLIENT_HOST

EDGE_KEY = bytes(range(32))


def metadata_for(**options) -> dict[str, str]:
    defaults = {
        "authorization": None,
        "incoming_forwarded_for": None,
        "client_host": "192.0.2.10",
        "request_id": "r1",
    }
    defaults.update(options)
    return dict(backend_metadata(**defaults))


def test_metadata_without_key_has_no_address():
    metadata = metadata_for()
    assert CLIENT_ADDRESS_KEY not in metadata
    assert EDGE_SIGNATURE_KEY not in metadata


def test_metadata_signs_peer_address():
    metadata = metadata_for(
        edge_key=EDGE_KEY, incoming_forwarded_for="198.51.100.7, 198.51.100.8"
    )
    # The peer is not a trusted proxy, so its X-Forwarded-For does not count.
    assert metadata[CLIENT_ADDRESS_KEY] == "192.0.2.10"
    signature = metadata[EDGE_SIGNATURE_KEY]
    assert signature == sign_client_address(EDGE_KEY, "192.0.2.10")
    verified = verified_edge_address(EDGE_KEY, "192.0.2.10", signature)
    assert str(verified) == "192.0.2.10"


def test_metadata_behind_trusted_proxy():
    metadata = metadata_for(
        edge_key=EDGE_KEY,
        incoming_forwarded_for="203.0.113.1, 198.51.100.7, 192.0.2.11",
        trusted_proxies=parse_networks(["192.0.2.0/24"]),
    )
    assert metadata[CLIENT_ADDRESS_KEY] == "198.51.100.7"
    assert metadata[EDGE_SIGNATURE_KEY] == sign_client_address(EDGE_KEY, "198.51.100.7")


def test_metadata_normalizes_mapped_ipv6():
    metadata = metadata_for(edge_key=EDGE_KEY, client_host="::ffff:192.0.2.10")
    assert metadata[CLIENT_ADDRESS_KEY] == "192.0.2.10"


def test_metadata_without_client_host():
    metadata = metadata_for(edge_key=EDGE_KEY, client_host=None)
    assert CLIENT_ADDRESS_KEY not in metadata


async def test_api_call_carries_signed_address(make_client, backend):
    async with make_client(edge_key=EDGE_KEY) as client:
        response = await client.get(
            "/platform/v1/task/t1", headers={"X-Forwarded-For": "198.51.100.9"}
        )
    assert response.status_code == 200
    metadata = backend.recorder.metadata["GetTask"]
    assert metadata[CLIENT_ADDRESS_KEY] == CLIENT_HOST
    assert metadata[EDGE_SIGNATURE_KEY] == sign_client_address(EDGE_KEY, CLIENT_HOST)
    # The chain still reaches the hub, which reads it only from trusted peers.
    assert metadata["x-forwarded-for"] == f"198.51.100.9, {CLIENT_HOST}"


async def test_api_call_joins_repeated_forwarded_for(make_client, backend):
    async with make_client(edge_key=EDGE_KEY, trusted_proxies=[CLIENT_HOST]) as client:
        response = await client.get(
            "/platform/v1/task/t1",
            headers=[
                ("X-Forwarded-For", "198.51.100.1"),
                ("X-Forwarded-For", "198.51.100.2"),
            ],
        )
    assert response.status_code == 200
    metadata = backend.recorder.metadata["GetTask"]
    assert metadata[CLIENT_ADDRESS_KEY] == "198.51.100.2"
    assert metadata["x-forwarded-for"] == f"198.51.100.1, 198.51.100.2, {CLIENT_HOST}"


async def test_health_probe_carries_signed_address(make_client, backend):
    async with make_client(edge_key=EDGE_KEY) as client:
        await client.get("/health")
    metadata = backend.recorder.metadata["GetHealth"]
    assert metadata[CLIENT_ADDRESS_KEY] == CLIENT_HOST
    assert metadata[EDGE_SIGNATURE_KEY] == sign_client_address(EDGE_KEY, CLIENT_HOST)


def test_settings_reject_short_key(backend):
    with pytest.raises(ValueError, match="edge_key must be at least 32 bytes"):
        EdgeSettings(backend=backend.address, edge_key=b"short")


def test_settings_reject_bad_proxy(backend):
    with pytest.raises(ValueError, match="trusted_proxies: 'proxy' is not an IP"):
        EdgeSettings(backend=backend.address, trusted_proxies=["proxy"])


def test_settings_hide_key_in_repr(backend):
    settings = EdgeSettings(backend=backend.address, edge_key=EDGE_KEY)
    assert "edge_key" not in repr(settings)
    assert EDGE_KEY.hex() not in repr(settings)
