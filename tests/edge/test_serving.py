"""Serving the edge over real HTTP: in-process with EdgeServer and as the
ris-edge command."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys

import httpx
import pytest

from ris.v1 import task_pb2
from ris_edge.main import build_parser, settings_from_args
from ris_edge.serving import EdgeServer
from ris_edge.settings import EdgeSettings


async def test_edge_server_serves_and_stops(backend):
    backend.recorder.responses["GetTask"] = task_pb2.GetTaskResponse(
        task=task_pb2.Task(task_id="t1")
    )
    edge = await EdgeServer.start(
        EdgeSettings(backend=backend.address), host="127.0.0.1", port=0
    )
    try:
        base_url = f"http://127.0.0.1:{edge.port}"
        async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
            ready = await client.get("/ready")
            task = await client.get(
                "/platform/v1/task/t1", headers={"X-Forwarded-For": "127.0.0.9"}
            )
    finally:
        await edge.stop()
    assert ready.status_code == 200
    assert task.json()["data"]["task_id"] == "t1"
    forwarded = backend.recorder.metadata["GetTask"]["x-forwarded-for"]
    assert forwarded == "127.0.0.9, 127.0.0.1"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", edge.port)) != 0


async def test_edge_server_serves_head(backend):
    backend.recorder.responses["GetTask"] = task_pb2.GetTaskResponse(
        task=task_pb2.Task(task_id="t1")
    )
    edge = await EdgeServer.start(
        EdgeSettings(backend=backend.address), host="127.0.0.1", port=0
    )
    try:
        base_url = f"http://127.0.0.1:{edge.port}"
        async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
            got = await client.get("/platform/v1/task/t1")
            head = await client.head("/platform/v1/task/t1")
            after = await client.get("/platform/v1/task/t1")
    finally:
        await edge.stop()
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert after.json() == got.json()


async def test_edge_server_port_taken(backend):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="failed to start"):
            await EdgeServer.start(EdgeSettings(backend=backend.address), port=port)


def _parse(argv):
    parser = build_parser()
    return settings_from_args(parser, parser.parse_args(argv))


def test_cli_settings(tmp_path):
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(b"PEM")
    settings = _parse(
        [
            "--backend",
            "127.0.0.1:9000",
            "--ca-file",
            str(ca_file),
            "--server-name",
            "hub",
            "--cors-origin",
            "http://127.0.0.1:3000",
            "--call-timeout",
            "60",
        ]
    )
    assert settings.backend == "127.0.0.1:9000"
    assert settings.ca_pem == b"PEM"
    assert settings.server_name == "hub"
    assert settings.cors_enabled is True
    assert settings.cors_allowed_origins == ("http://127.0.0.1:3000",)
    assert settings.call_timeout == 60


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--backend", "no-port"],
        ["--backend", "127.0.0.1:0"],
        ["--backend", "127.0.0.1:9000", "--tls-cert", "c.pem"],
        ["--backend", "127.0.0.1:9000", "--ca-file", "/nonexistent/ca.pem"],
    ],
)
def test_cli_rejects(argv):
    with pytest.raises(SystemExit) as raised:
        _parse(argv)
    assert raised.value.code == 2


async def test_ris_edge_command_serves(backend):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ris_edge.main",
        "--backend",
        backend.address,
        "--port",
        "0",
        stderr=subprocess.PIPE,
    )
    try:
        port = await asyncio.wait_for(_listening_port(process), timeout=20)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", trust_env=False
        ) as client:
            response = await client.get("/ready")
        assert response.status_code == 200
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


async def _listening_port(process) -> int:
    pattern = re.compile(rb"running on http://127\.0\.0\.1:(\d+)")
    while True:
        line = await process.stderr.readline()
        if not line:
            raise AssertionError("ris-edge exited before it listened")
        found = pattern.search(line)
        if found:
            return int(found.group(1))
