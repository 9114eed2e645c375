"""Helpers shared by the test packages: config files, gRPC stubs, certificates."""

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ris.v1 import (
    agent_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    client_pb2_grpc,
    service_pb2_grpc,
    system_pb2_grpc,
    task_pb2_grpc,
    tenant_pb2_grpc,
    user_pb2_grpc,
)
from ris_server.config import HubConfig, load_config

ADMIN_USER = "admin"
ADMIN_PASSWORD = "test-bootstrap-password"


# Set to "database" to run the suites with a database per tenant; a test
# that sets multi_tenant.tenant_isolation itself keeps its value.
ISOLATION_ENV = "RIS_TEST_TENANT_ISOLATION"


def write_config(path: Path, **sections) -> Path:
    """Write a master config JSON with quick test timings merged in."""
    config = {
        "client_management": {"heartbeat_interval": "1s", "connection_timeout": "4s"},
        "task_orchestration": {"task_timeout": "30s", "lease_grace": "2s"},
        # Suites that are not about rate limits send bursts from one address.
        "security": {"rate_limiting": {"enabled": False}},
    }
    _merge(config, sections)
    forced = os.environ.get(ISOLATION_ENV)
    if forced:
        config.setdefault("multi_tenant", {}).setdefault("tenant_isolation", forced)
    path.write_text(json.dumps(config))
    return path


def local_hub_config(root: Path, *, edge: bool = False, **sections) -> HubConfig:
    """Load a test hub's config: listeners on 127.0.0.1 port 0, data in root.

    The REST edge is off unless `edge`; the metrics listener is always off.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = write_config(root / "config.json", **sections)
    overrides = {
        ("server", "data_dir"): str(root / "data"),
        ("server", "host"): "127.0.0.1",
        ("server", "grpc_port"): 0,
        ("server", "agent_port"): 0,
        ("server", "port"): 0,
        ("server", "edge_enabled"): edge,
        ("monitoring", "metrics", "enabled"): False,
    }
    return load_config(env={"CONFIG_PATH": str(path)}, overrides=overrides)


def _merge(base: dict, extra: dict) -> None:
    """Merge `extra` into `base`, descending into nested objects."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


@dataclass
class Api:
    """Typed stubs on one channel, plus the metadata of a logged-in user."""

    channel: grpc.aio.Channel
    metadata: tuple = ()

    @property
    def auth(self):
        return auth_pb2_grpc.AuthServiceStub(self.channel)

    @property
    def clients(self):
        return client_pb2_grpc.ClientServiceStub(self.channel)

    @property
    def tasks(self):
        return task_pb2_grpc.TaskServiceStub(self.channel)

    @property
    def tenants(self):
        return tenant_pb2_grpc.TenantServiceStub(self.channel)

    @property
    def services(self):
        return service_pb2_grpc.ServiceManagementServiceStub(self.channel)

    @property
    def agents(self):
        return agent_pb2_grpc.AgentServiceStub(self.channel)

    @property
    def users(self):
        return user_pb2_grpc.UserServiceStub(self.channel)

    @property
    def system(self):
        return system_pb2_grpc.SystemServiceStub(self.channel)

    async def login(self, username=ADMIN_USER, password=ADMIN_PASSWORD, tenant=""):
        response = await self.auth.Login(
            auth_pb2.LoginRequest(
                username=username, password=password, tenant_code=tenant
            )
        )
        self.metadata = (("authorization", f"Bearer {response.access_token}"),)
        return response


def make_ca(name: str = "other CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_client_cert(ca_key, ca_cert, uri: str):
    """A client certificate with the given identity URI, signed by `ca_key`."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agent")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return pem_key(key), cert.public_bytes(serialization.Encoding.PEM)


def pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def csr_for(key, name: str = "agent") -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()
