"""TLS versions and cipher suites: what the config accepts and the ports do."""

import asyncio
import socket
import ssl

import pytest

from ris_server import tls_policy
from ris_server.config import ConfigError, load_config
from tests.support import write_config


def load_with(tmp_path, **sections):
    path = write_config(tmp_path / "config.json", **sections)
    return load_config(env={"CONFIG_PATH": str(path)})


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"server": {"tls": {"min_version": "1.3"}}}, "server.tls.min_version"),
        ({"server": {"tls": {"min_version": "1.1"}}}, "server.tls.min_version"),
        ({"server": {"tls": {"max_version": "1.2"}}}, "server.tls.max_version"),
        (
            {
                "security": {
                    "encryption": {"data_in_transit": {"min_tls_version": "1.3"}}
                }
            },
            "security.encryption.data_in_transit.min_tls_version",
        ),
        (
            {"server": {"tls": {"cipher_suites": ["TLS_AES_128_GCM_SHA256"]}}},
            "server.tls.cipher_suites",
        ),
        (
            {"server": {"tls": {"cipher_suites": ["ecdhe rsa; rm"]}}},
            "server.tls.cipher_suites",
        ),
        (
            {"server": {"tls": {"cipher_suites": ["NOPE-CIPHER"]}}},
            "server.tls.cipher_suites",
        ),
    ],
)
def test_unenforceable_settings_rejected(tmp_path, sections, key):
    with pytest.raises(ConfigError) as error:
        load_with(tmp_path, **sections)

    assert key in str(error.value)


def test_valid_suites_joined(tmp_path):
    config = load_with(
        tmp_path,
        server={"tls": {"cipher_suites": ["ECDHE-ECDSA-AES256-GCM-SHA384"]}},
    )
    joined = tls_policy.check_cipher_suites(config.server.tls.cipher_suites, "k")

    assert joined == "ECDHE-ECDSA-AES256-GCM-SHA384"
    assert tls_policy.check_cipher_suites([], "k") is None


def test_pending_suites_detected():
    environ = {tls_policy.CIPHER_ENV: "A-B"}

    assert tls_policy.cipher_suites_pending("C-D", environ)
    assert not tls_policy.cipher_suites_pending("A-B", environ)
    assert not tls_policy.cipher_suites_pending(None, {})


async def test_embedded_hub_rejects_unapplied_suites(hub_factory, monkeypatch):
    monkeypatch.delenv(tls_policy.CIPHER_ENV, raising=False)

    with pytest.raises(ConfigError) as error:
        await hub_factory(
            server={"tls": {"cipher_suites": ["ECDHE-ECDSA-AES256-GCM-SHA384"]}}
        )

    assert "server.tls.cipher_suites" in str(error.value)


def handshake(address: str, version: ssl.TLSVersion) -> str:
    """Return the negotiated version, or the error name when the hub rejects it."""
    host, port = address.rsplit(":", 1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Level 0 lets this client offer the old versions the hub must reject.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                return tls.version()
    except (ssl.SSLError, OSError) as exc:
        return type(exc).__name__


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
async def test_ports_refuse_tls_1_1(hub_server):
    endpoints = hub_server.hub.endpoints
    loop = asyncio.get_running_loop()

    results = {
        (port, version.name): await loop.run_in_executor(
            None, handshake, address, version
        )
        for port, address in (("api", endpoints.grpc), ("agent", endpoints.agent))
        for version in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2)
    }

    assert results[("api", "TLSv1_1")] in ("SSLEOFError", "SSLError")
    assert results[("agent", "TLSv1_1")] in ("SSLEOFError", "SSLError")
    assert results[("api", "TLSv1_2")] == "TLSv1.2"
