"""A real `ris-server` process with the bench config, and its admin API."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.machine import raise_fd_limit
from ris.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    client_pb2,
    client_pb2_grpc,
)

BIN = Path(sys.executable).parent
ADMIN_USER = "admin"
# Only this benchmark's throwaway hubs use this password; each hub lives in
# a temporary directory that is removed after the run.
ADMIN_PASSWORD = "bench-bootstrap-password"
START_TIMEOUT = 60.0


def bench_config(heartbeat: float, clients: int) -> dict:
    """Return the hub config of every bench run.

    Rate limiting is off because the callers are a handful of addresses and
    principals sending thousands of requests per second, which is what the
    limiter exists to stop. The queue and the running-task cap are raised
    above the defaults so that they never bound a scenario.
    """
    return {
        "client_management": {
            "heartbeat_interval": f"{heartbeat}s",
            "connection_timeout": f"{max(heartbeat * 3, 10)}s",
            "max_clients": max(clients + 10, 1000),
        },
        "task_orchestration": {
            "max_concurrent_tasks": 100_000,
            "queue": {"size": 1_000_000},
        },
        "security": {"rate_limiting": {"enabled": False}},
        "logging": {"level": "warning"},
    }


@dataclass
class AgentCredentials:
    """Identity and key material of one simulated agent."""

    unique_client_id: str
    key_pem: bytes
    cert_pem: bytes


def new_key() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key, pem


def csr_pem(key: ec.EllipticCurvePrivateKey) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-agent")])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject)
    return (
        request.sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


class BenchHub:
    """One `ris-server` subprocess on a data directory, bound to 127.0.0.1."""

    def __init__(
        self,
        root: Path,
        *,
        heartbeat: float = 30.0,
        clients: int = 100,
        profiler: list[str] | None = None,
        config_overrides: dict | None = None,
    ) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.config_path = root / "config.json"
        config = bench_config(heartbeat, clients)
        for section, values in (config_overrides or {}).items():
            config.setdefault(section, {}).update(values)
        root.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config))
        self.log_path = root / "hub.log"
        self.profiler = profiler or []
        self.process: subprocess.Popen | None = None
        self.endpoints: dict = {}

    def start(self) -> "BenchHub":
        endpoints_file = self.data_dir / "endpoints.json"
        endpoints_file.unlink(missing_ok=True)
        env = dict(
            os.environ,
            CONFIG_PATH=str(self.config_path),
            RIS_BOOTSTRAP_PASSWORD=ADMIN_PASSWORD,
        )
        command = [str(BIN / "ris-server")]
        for flag in ("--grpc-port", "--agent-port", "--edge-port", "--metrics-port"):
            command += [flag, "0"]
        command += ["--data-dir", str(self.data_dir), "--host", "127.0.0.1"]
        command += ["--public-host", "127.0.0.1"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.profiler, *command],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_fd_limit,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not endpoints_file.exists():
            if self.process.poll() is not None:
                tail = self.log_path.read_text()[-3000:]
                raise RuntimeError(f"ris-server exited during start: {tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"ris-server wrote no {endpoints_file} within {START_TIMEOUT} s"
                )
            time.sleep(0.05)
        time.sleep(0.05)
        self.endpoints = json.loads(endpoints_file.read_text())
        return self

    @property
    def pid(self) -> int:
        """Process id of the hub itself, below a profiler if there is one."""
        assert self.process is not None
        if not self.profiler:
            return self.process.pid
        for child in psutil.Process(self.process.pid).children(recursive=True):
            if "ris-server" in " ".join(child.cmdline()):
                return child.pid
        return self.process.pid

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGINT if self.profiler else signal.SIGTERM)
        if self.profiler:
            # The profiler writes its report after the hub exits.
            psutil.Process(self.pid).send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def ca_pem(self) -> bytes:
        return Path(self.endpoints["ca_file"]).read_bytes()

    def api_channel(self) -> grpc.aio.Channel:
        credentials = grpc.ssl_channel_credentials(self.ca_pem)
        return grpc.aio.secure_channel(self.endpoints["grpc"], credentials)

    def connection_info(self) -> dict:
        """Return the endpoints and CA that worker processes need; picklable."""
        return {
            "grpc": self.endpoints["grpc"],
            "agent": self.endpoints["agent"],
            "edge": self.endpoints["edge"],
            "ca_pem": self.ca_pem,
        }


async def login(channel: grpc.aio.Channel) -> tuple:
    """Log in as the bootstrap admin; return the call metadata."""
    response = await auth_pb2_grpc.AuthServiceStub(channel).Login(
        auth_pb2.LoginRequest(username=ADMIN_USER, password=ADMIN_PASSWORD)
    )
    return (("authorization", f"Bearer {response.access_token}"),)


async def _bounded(coroutines, limit: int) -> list:
    """Run coroutines with at most `limit` in flight; keep their order."""
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


async def add_clients(
    hub: BenchHub, count: int, prefix: str
) -> list[client_pb2.Client]:
    """Add `count` clients named PREFIX-00000 and up through AddClient."""
    async with hub.api_channel() as channel:
        metadata = await login(channel)
        stub = client_pb2_grpc.ClientServiceStub(channel)

        async def add(index: int) -> client_pb2.Client:
            request = client_pb2.AddClientRequest(
                name=f"{prefix}-{index:05d}", host="localhost"
            )
            return (await stub.AddClient(request, metadata=metadata)).client

        return await _bounded((add(i) for i in range(count)), 32)


async def sign_with_hub_ca(
    hub: BenchHub, clients: list[client_pb2.Client]
) -> list[AgentCredentials]:
    """Issue and record client certificates with the hub's own CA and store.

    The certificates are the ones Enroll issues (same CA code, same CA files)
    and are recorded in the hub's certificate table through the store API,
    which the hub requires of every agent certificate. The hub is stopped
    while the store is written and started again afterwards.
    """
    from ris_server.pki import CertificateAuthority, serial_hex
    from ris_server.store.sqlite import SqliteStore

    hub.stop()
    ca = CertificateAuthority(hub.data_dir / "pki", ["127.0.0.1"])
    store = await SqliteStore.open(hub.data_dir / "ris.db")
    issued = []
    try:
        for client in clients:
            key, key_pem = new_key()
            cert = ca.issue_client_certificate(
                key.public_key(), client.tenant_code, client.unique_client_id, "", 30
            )
            await store.record_certificate(
                serial_hex(cert),
                client.unique_client_id,
                client.tenant_code,
                cert.not_valid_after_utc.timestamp(),
                issued_at=time.time(),
            )
            issued.append(
                AgentCredentials(
                    client.unique_client_id,
                    key_pem,
                    cert.public_bytes(serialization.Encoding.PEM),
                )
            )
    finally:
        await store.close()
    hub.start()
    return issued


async def enrollment_tokens(hub: BenchHub, clients: list[client_pb2.Client]) -> list:
    """Create one enrollment token per client; return (client, token) pairs."""
    async with hub.api_channel() as channel:
        metadata = await login(channel)
        stub = client_pb2_grpc.ClientServiceStub(channel)

        async def create(client):
            request = client_pb2.CreateEnrollmentTokenRequest(id=client.id)
            response = await stub.CreateEnrollmentToken(request, metadata=metadata)
            return client, response.token

        return await _bounded((create(c) for c in clients), 32)


async def enroll_all(hub: BenchHub, clients: list[client_pb2.Client]) -> list:
    """Enroll every client through the real Enroll RPC, 32 at a time."""
    pairs = await enrollment_tokens(hub, clients)
    async with hub.api_channel() as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)

        async def enroll(client, token) -> AgentCredentials:
            key, key_pem = new_key()
            response = await stub.Enroll(
                agent_pb2.EnrollRequest(token=token, csr_pem=csr_pem(key))
            )
            return AgentCredentials(
                response.unique_client_id, key_pem, response.certificate_pem.encode()
            )

        return await _bounded((enroll(c, t) for c, t in pairs), 32)


async def provision_agents(
    hub: BenchHub, count: int, mode: str, prefix: str = "bench"
) -> list[AgentCredentials]:
    """Add `count` clients and give each a certificate (mode "rpc" or "ca")."""
    if mode not in ("rpc", "ca"):
        raise ValueError(f"enroll mode must be 'rpc' or 'ca', got {mode!r}")
    clients = await add_clients(hub, count, prefix)
    if mode == "ca":
        return await sign_with_hub_ca(hub, clients)
    return await enroll_all(hub, clients)


class ProcessSampler:
    """Samples RSS and CPU time of one process (the hub)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self._cpu_start = self._cpu()
        self._wall_start = time.monotonic()

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def rss_bytes(self) -> int:
        return self.process.memory_info().rss

    def restart_cpu(self) -> None:
        self._cpu_start = self._cpu()
        self._wall_start = time.monotonic()

    def cpu_percent(self) -> float:
        """CPU used since the last restart, in percent of one core."""
        wall = time.monotonic() - self._wall_start
        if wall <= 0:
            return 0.0
        return round(100 * (self._cpu() - self._cpu_start) / wall, 1)

    def open_files(self) -> int:
        return self.process.num_fds()
