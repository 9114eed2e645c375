"""Configured TLS 1.2 cipher suites reach the gRPC and REST listeners."""

import socket
import ssl

from tests.e2e.conftest import HubProcess
from tests.server.test_tls_policy import handshake
from tests.support import write_config

ALLOWED = "ECDHE-ECDSA-AES256-GCM-SHA384"
OTHER = "ECDHE-ECDSA-AES128-GCM-SHA256"


def tls12_with(address: str, suite: str) -> str:
    host, port = address.rsplit(":", 1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(suite)
    try:
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                return tls.cipher()[0]
    except (ssl.SSLError, OSError) as exc:
        return type(exc).__name__


def test_cipher_suites_restrict_tls12(tmp_path):
    hub = HubProcess(tmp_path)
    hub.config_path = write_config(
        tmp_path / "config.json", server={"tls": {"cipher_suites": [ALLOWED]}}
    )
    hub.start()
    try:
        edge = hub.endpoints["edge"].removeprefix("https://")
        api = hub.endpoints["grpc"]

        results = {
            (name, suite): tls12_with(address, suite)
            for name, address in (("api", api), ("edge", edge))
            for suite in (ALLOWED, OTHER)
        }
        tls13 = handshake(api, ssl.TLSVersion.TLSv1_3)
    finally:
        hub.stop()

    assert results[("api", ALLOWED)] == ALLOWED
    assert results[("api", OTHER)] != OTHER
    assert results[("edge", ALLOWED)] == ALLOWED
    assert results[("edge", OTHER)] != OTHER
    assert tls13 == "TLSv1.3"
