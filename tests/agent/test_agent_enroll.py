"""Enrollment against the hub double: stored identity and error handling."""

import asyncio
import json
import os
import socket
import stat
import sys

import pytest
from agent_pki import make_test_ca
from agent_test_support import ENROLLMENT_TOKEN
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ris_agent import main as main_module
from ris_agent.main import main
from ris_agent.state import DataDir, load_state


@pytest.fixture(autouse=True)
def _keep_pytest_logging(monkeypatch):
    """Stop main() from replacing pytest's log handlers with its own."""
    monkeypatch.setattr(main_module, "configure_logging", lambda *args: None)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _enroll_args(hub, ca_file, data_root, *extra) -> list[str]:
    return [
        "enroll",
        "--hub",
        hub.api_address,
        "--ca-file",
        str(ca_file),
        "--data-dir",
        str(data_root),
        "--hostname",
        "test-host",
        "--timeout",
        "5",
        *extra,
    ]


async def _main_in_thread(args: list[str]) -> int:
    # main() runs its own event loop, and the hub double needs this one.
    return await asyncio.to_thread(main, args)


async def test_enroll_writes_key_certificate_and_state(hub, ca, ca_file, tmp_path):
    root = tmp_path / "data"

    code = await _main_in_thread(
        _enroll_args(hub, ca_file, root, "--token", ENROLLMENT_TOKEN)
    )

    assert code == 0
    data_dir = DataDir(root)
    assert _mode(root) == 0o700
    assert _mode(data_dir.key_path) == 0o600
    key = serialization.load_pem_private_key(data_dir.key_path.read_bytes(), None)
    certificate = x509.load_pem_x509_certificate(data_dir.certificate_path.read_bytes())
    assert (
        certificate.public_key().public_numbers() == key.public_key().public_numbers()
    )
    assert data_dir.ca_certificate_path.read_bytes() == ca.certificate_pem

    state = load_state(data_dir)
    assert state.unique_client_id == "client-1"
    assert state.tenant_code == "acme"
    assert state.server_host == hub.double.agent_server_host
    assert state.agent_endpoint == hub.agent_address
    assert state.heartbeat_interval == 1
    assert state.reconnect_policy.initial_delay == 1
    assert state.reconnect_policy.max_delay == 2
    assert state.hostname == "test-host"
    assert state.certificate_expires_at

    raw = json.loads(data_dir.state_path.read_text())
    assert ENROLLMENT_TOKEN not in data_dir.state_path.read_text()
    assert raw["reconnect_policy"]["max_attempts"] == 0

    request = hub.double.enroll_requests[0]
    assert request.hostname == "test-host"
    assert "BEGIN CERTIFICATE REQUEST" in request.csr_pem


async def test_enroll_reads_token_from_environment(hub, ca_file, tmp_path, monkeypatch):
    monkeypatch.setenv("RIS_ENROLLMENT_TOKEN", ENROLLMENT_TOKEN)

    code = await _main_in_thread(_enroll_args(hub, ca_file, tmp_path / "data"))

    assert code == 0
    assert hub.double.enroll_requests[0].token == ENROLLMENT_TOKEN


async def test_enroll_rejected_token_exits_1(hub, ca_file, tmp_path, capsys):
    root = tmp_path / "data"

    code = await _main_in_thread(
        _enroll_args(hub, ca_file, root, "--token", "wrong-token-value")
    )

    assert code == 1
    output = capsys.readouterr()
    assert "rejected the enrollment token" in output.err
    assert "new token" in output.err
    assert "wrong-token-value" not in output.err + output.out
    assert not (root / "state.json").exists()
    assert not (root / "agent.key").exists()


async def test_enroll_missing_token_exits_2(
    hub, ca_file, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("RIS_ENROLLMENT_TOKEN", raising=False)

    code = await _main_in_thread(_enroll_args(hub, ca_file, tmp_path / "data"))

    assert code == 2
    assert "missing enrollment token" in capsys.readouterr().err
    assert hub.double.enroll_requests == []


async def test_enroll_unreadable_ca_file_exits_2(hub, tmp_path, capsys):
    missing = tmp_path / "no-such-ca.crt"

    code = await _main_in_thread(
        _enroll_args(hub, missing, tmp_path / "data", "--token", ENROLLMENT_TOKEN)
    )

    assert code == 2
    assert f"cannot read CA file {missing}" in capsys.readouterr().err


async def test_enroll_hub_unreachable_exits_1(hub, ca_file, tmp_path, capsys):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    args = _enroll_args(hub, ca_file, tmp_path / "data", "--token", ENROLLMENT_TOKEN)
    args[args.index("--hub") + 1] = f"127.0.0.1:{closed_port}"

    code = await _main_in_thread(args)

    assert code == 1
    assert f"cannot reach the hub at 127.0.0.1:{closed_port}" in capsys.readouterr().err


async def test_enroll_invalid_hub_address_exits_2(ca_file, tmp_path, capsys):
    code = await _main_in_thread(
        ["enroll", "--hub", "no-port", "--ca-file", str(ca_file), "--token", "t"]
    )

    assert code == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


async def test_enroll_twice_needs_force(hub, ca_file, tmp_path, capsys):
    hub.double.tokens.add("second-token")
    root = tmp_path / "data"
    first = await _main_in_thread(
        _enroll_args(hub, ca_file, root, "--token", ENROLLMENT_TOKEN)
    )
    key_before = (root / "agent.key").read_bytes()

    second = await _main_in_thread(
        _enroll_args(hub, ca_file, root, "--token", "second-token")
    )
    assert "already enrolled" in capsys.readouterr().err
    forced = await _main_in_thread(
        _enroll_args(hub, ca_file, root, "--token", "second-token", "--force")
    )

    assert first == 0
    assert second == 1
    assert forced == 0
    assert (root / "agent.key").read_bytes() != key_before


async def test_enroll_cli_subprocess_hides_token(hub, ca_file, tmp_path):
    root = tmp_path / "data"
    environment = dict(os.environ, RIS_ENROLLMENT_TOKEN="bad-secret-token")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ris_agent",
        *_enroll_args(hub, ca_file, root, "--log-level", "DEBUG"),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 1
    assert b"rejected the enrollment token" in stderr
    assert b"bad-secret-token" not in stdout + stderr


async def test_enroll_wrong_ca_exits_1(hub, tmp_path, capsys):
    other_ca_dir = tmp_path / "other"
    other_ca_dir.mkdir()
    other_ca_file = make_test_ca().write_ca_file(other_ca_dir)

    code = await _main_in_thread(
        _enroll_args(hub, other_ca_file, tmp_path / "data", "--token", ENROLLMENT_TOKEN)
    )

    assert code == 1
    error = capsys.readouterr().err
    assert "cannot reach the hub" in error
    assert "--ca-file" in error
    assert hub.double.enroll_requests == []
