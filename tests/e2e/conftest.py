"""Real processes: a `ris-server` subprocess and enrolled `ris-agent` subprocesses.

Every listener binds 127.0.0.1 port 0; the hub writes the ports it got to
DATA/endpoints.json, which the fixtures read.
"""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import httpx
import pytest

from ris.v1 import client_pb2
from tests.support import ADMIN_PASSWORD, Api, write_config

BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0


class HubProcess:
    """A `ris-server` subprocess on one data directory, restartable."""

    def __init__(self, root: Path, fixed_ports: bool = False) -> None:
        """With fixed_ports, ports are chosen once so a restart keeps them."""
        self.root = root
        self.ports = (
            {name: free_port() for name in ("grpc", "agent", "edge", "metrics")}
            if fixed_ports
            else dict.fromkeys(("grpc", "agent", "edge", "metrics"), 0)
        )
        self.data_dir = root / "data"
        self.config_path = write_config(root / "config.json")
        self.log_path = root / "hub.log"
        self.process: subprocess.Popen | None = None
        self.endpoints: dict = {}

    def start(self) -> "HubProcess":
        endpoints_file = self.data_dir / "endpoints.json"
        endpoints_file.unlink(missing_ok=True)
        env = dict(
            os.environ,
            CONFIG_PATH=str(self.config_path),
            RIS_BOOTSTRAP_PASSWORD=ADMIN_PASSWORD,
        )
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(BIN / "ris-server"),
                "--data-dir",
                str(self.data_dir),
                "--host",
                "127.0.0.1",
                "--public-host",
                "127.0.0.1",
                "--grpc-port",
                str(self.ports["grpc"]),
                "--agent-port",
                str(self.ports["agent"]),
                "--edge-port",
                str(self.ports["edge"]),
                "--metrics-port",
                str(self.ports["metrics"]),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not endpoints_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ris-server exited: {self.log_path.read_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError("ris-server did not write endpoints.json")
            time.sleep(0.05)
        self.endpoints = json.loads(endpoints_file.read_text())
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    @property
    def ca_pem(self) -> bytes:
        return Path(self.endpoints["ca_file"]).read_bytes()

    def channel(self) -> grpc.aio.Channel:
        credentials = grpc.ssl_channel_credentials(self.ca_pem)
        return grpc.aio.secure_channel(self.endpoints["grpc"], credentials)

    def rest(self, **kwargs) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.endpoints["edge"],
            verify=self._ssl_context(),
            timeout=60,
            **kwargs,
        )

    def _ssl_context(self):
        import ssl

        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        return context


def free_port() -> int:
    """Return a port the kernel just handed out on 127.0.0.1 (bound to 0)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AgentProcess:
    """A `ris-agent` enrolled with a fresh token and run as a subprocess."""

    def __init__(self, hub: HubProcess, data_dir: Path) -> None:
        self.hub = hub
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self.process: subprocess.Popen | None = None

    def enroll(self, token: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                str(BIN / "ris-agent"),
                "enroll",
                "--hub",
                self.hub.endpoints["grpc"],
                "--ca-file",
                self.hub.endpoints["ca_file"],
                "--data-dir",
                str(self.data_dir),
                "--hostname",
                "localhost",
            ],
            env=dict(os.environ, RIS_ENROLLMENT_TOKEN=token),
            capture_output=True,
            text=True,
            timeout=30,
        )

    def start(self, *extra: str) -> "AgentProcess":
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(BIN / "ris-agent"), "run", "--data-dir", str(self.data_dir), *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def executions(self) -> list[dict]:
        path = self.data_dir / "executions.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]


async def wait_connected(api: Api, client_id: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client = (
            await api.clients.GetClient(
                client_pb2.GetClientRequest(id=client_id), metadata=api.metadata
            )
        ).client
        if client.connection_status == client_pb2.CONNECTION_STATUS_CONNECTED:
            return
        await _sleep(0.1)
    raise TimeoutError(f"client {client_id} did not connect within {timeout} s")


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Echo handler: returns every request it received as JSON."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers),
                "body": body,
            }
        ).encode()
        status = (
            200
            if not self.path.startswith("/status/")
            else int(self.path.split("/")[2])
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo", "yes")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def echo_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def hub_process(tmp_path):
    hub = HubProcess(tmp_path).start()
    yield hub
    hub.stop()


@pytest.fixture
async def hub_api(hub_process):
    async with hub_process.channel() as channel:
        api = Api(channel)
        await api.login()
        yield api


@pytest.fixture
async def agent_factory(hub_process, hub_api, tmp_path):
    """Add a client, enroll a real agent for it, start it, wait until connected."""
    agents: list[AgentProcess] = []

    async def start(name: str = "agent-1", *extra: str):
        client = (
            await hub_api.clients.AddClient(
                client_pb2.AddClientRequest(name=name, host="localhost"),
                metadata=hub_api.metadata,
            )
        ).client
        token = await hub_api.clients.CreateEnrollmentToken(
            client_pb2.CreateEnrollmentTokenRequest(id=client.id),
            metadata=hub_api.metadata,
        )
        agent = AgentProcess(hub_process, tmp_path / name)
        enrolled = agent.enroll(token.token)
        assert enrolled.returncode == 0, enrolled.stderr
        agent.start(*extra)
        agents.append(agent)
        await wait_connected(hub_api, client.id)
        return client, agent

    yield start
    for agent in agents:
        agent.stop()
