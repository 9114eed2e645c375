"""Assembly of the hub: store, CA, gRPC server, REST edge and metrics."""

import asyncio
import json
import logging
import socket
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ris.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    client_pb2,
    client_pb2_grpc,
    service_pb2,
    service_pb2_grpc,
    system_pb2,
    system_pb2_grpc,
    task_pb2,
    task_pb2_grpc,
    tenant_pb2,
    tenant_pb2_grpc,
    user_pb2,
    user_pb2_grpc,
)
from ris_server import bootstrap, tls_policy
from ris_server.audit import AuditLog, Retention
from ris_server.client_address import ClientAddressResolver, parse_networks
from ris_server.config import ConfigError, HubConfig
from ris_server.dispatch import Dispatcher
from ris_server.hub import Hub
from ris_server.interceptors import AuthInterceptor
from ris_server.ldap_auth import check_directory_tenant
from ris_server.pki import CertificateAuthority, write_private
from ris_server.request_limits import RequestLimiter, build_limiter
from ris_server.retry import RetryPolicy
from ris_server.secrets_store import MasterKeyLock, load_or_create_secret
from ris_server.services.agents import AgentServicer
from ris_server.services.auth import AuthServicer
from ris_server.services.clients import ClientServicer
from ris_server.services.service_mgmt import ServiceManagementServicer
from ris_server.services.system import SystemServicer
from ris_server.services.tasks import TaskServicer
from ris_server.services.tenants import TenantServicer
from ris_server.services.users import UserServicer
from ris_server.session_manager import load_revocations
from ris_server.store import open_store
from ris_server.tenant_quotas import TenantQuotas, purge_history
from ris_server.tokens import TokenService

log = logging.getLogger(__name__)

# Keepalive policy: agents ping every 10 s even with no call in flight, and
# the server accepts pings 5 s apart or more. A client that pings faster gets
# a GOAWAY after two bad pings (grpc's strike limit). The hub pings idle
# connections too, so a peer that vanished without closing its socket is
# noticed.
SERVER_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
    # A saturated loop reads queued pings back to back, so a client keeping
    # to the interval can look too fast once or twice. Five strikes keep such
    # clients, and a client that really floods still gets GOAWAY.
    ("grpc.http2.max_ping_strikes", 5),
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
    # Without this a second hub could bind the same ports and take half of
    # the connections.
    ("grpc.so_reuseport", 0),
]

# How often finished tasks past task_orchestration.history_retention are deleted.
HISTORY_PURGE_INTERVAL = 60.0

# Key file in the data directory that the REST edge signs client addresses with.
EDGE_KEY_FILE = "edge.key"

SERVICE_NAMES = (
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
    tenant_pb2.DESCRIPTOR.services_by_name["TenantService"].full_name,
    user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
    client_pb2.DESCRIPTOR.services_by_name["ClientService"].full_name,
    task_pb2.DESCRIPTOR.services_by_name["TaskService"].full_name,
    service_pb2.DESCRIPTOR.services_by_name["ServiceManagementService"].full_name,
    agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
    system_pb2.DESCRIPTOR.services_by_name["SystemService"].full_name,
)


def _audit_log(config: HubConfig) -> AuditLog:
    """Open the audit log named by the config, or DATA/audit.log."""
    settings = config.security.audit
    enabled = settings.enabled and config.audit_log.enabled
    events = tuple(settings.events) if enabled else ()
    path = config.audit_log.path or config.data_dir / "audit.log"
    retention = Retention(
        max_bytes=config.audit_log.max_size,
        max_backups=config.audit_log.max_backups,
        max_age_days=min(settings.retention_days, config.audit_log.max_age),
    )
    try:
        return AuditLog(Path(path), events, retention)
    except OSError as exc:
        raise ConfigError(
            f"audit_log.path = {str(path)!r}: cannot open: {exc.strerror}"
        ) from None


def _shown(host: str) -> str:
    """Return an address to reach a listener bound to `host` on this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def _public_host(config: HubConfig) -> str:
    if config.server.public_host:
        return config.server.public_host
    if config.server.host in ("", "0.0.0.0", "::"):
        return socket.getfqdn()
    return config.server.host


class HubServer:
    """The whole hub in one process; start() binds, stop() drains."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.hub: Hub | None = None
        self._grpc: grpc.aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None
        self._edge = None
        self._watchdog: asyncio.Task | None = None
        self._metrics_server = None
        self._limiter: RequestLimiter | None = None
        self._master_key_lock: MasterKeyLock | None = None
        self._edge_key = b""

    async def start(self) -> Hub:
        config = self.config
        tls_suites = tls_policy.check_cipher_suites(
            config.server.tls.cipher_suites, "server.tls.cipher_suites"
        )
        try:
            tls_policy.require_cipher_suites(tls_suites)
        except tls_policy.TlsPolicyError as exc:
            raise ConfigError(str(exc)) from None
        data_dir = config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        public_host = _public_host(config)
        tls = config.server.tls
        ca = CertificateAuthority(
            data_dir / "pki",
            [public_host, *tls.server_names],
            ca_file=tls.ca_file,
            ca_key_file=tls.ca_key_file,
        )
        jwt_config = config.authentication.jwt
        verifying_key = None
        if jwt_config.algorithm != "HS256":
            secret = Path(jwt_config.private_key_file).read_bytes()
            verifying_key = Path(jwt_config.public_key_file).read_bytes()
        elif jwt_config.secret:
            secret = jwt_config.secret.encode()
        else:
            secret = load_or_create_secret(data_dir / "jwt.secret")
        tokens = TokenService(
            secret,
            verifying_key=verifying_key,
            issuer=jwt_config.issuer,
            audience=jwt_config.audience,
            access_ttl=jwt_config.expiry,
            refresh_ttl=jwt_config.refresh_expiry,
            leeway=jwt_config.leeway,
            algorithm=jwt_config.algorithm,
        )
        store = await open_store(config)
        try:
            _keyring, self._master_key_lock = await bootstrap.open_keyring(
                store, config
            )
        except BaseException:
            await store.close()
            raise
        await store.mark_all_disconnected()
        await load_revocations(store, tokens)
        tenant = await bootstrap.ensure_default_tenant(store, config)
        await bootstrap.ensure_superadmin(store, tenant)
        try:
            await check_directory_tenant(store, config)
        except ConfigError:
            await store.close()
            raise
        orchestration = config.task_orchestration
        policy = orchestration.retry_policy
        dispatcher = Dispatcher(
            store,
            lease_grace=orchestration.lease_grace,
            retry_policy=RetryPolicy(
                policy.initial_delay, policy.max_delay, policy.backoff_strategy
            ),
            aging_interval=orchestration.queue.aging_interval,
            max_concurrent_tasks=orchestration.max_concurrent_tasks,
            lost_agent_grace=orchestration.lost_agent_grace,
            max_queue_wait=orchestration.queue.max_wait,
        )
        hub = Hub(config, store, tokens, ca, dispatcher, _audit_log(config))
        hub.quotas = TenantQuotas(store)
        dispatcher.result_sizes = hub.quotas.record_result
        hub.endpoints.public_host = public_host
        hub.revoked.add(await store.revoked_serials(time.time()))
        log.info("loaded %d revoked certificate serials", len(hub.revoked))
        # The REST edge signs the HTTP client's address with this key; a
        # standalone edge reads the file (ris-edge --edge-key-file).
        self._edge_key = load_or_create_secret(data_dir / EDGE_KEY_FILE)
        self._limiter = build_limiter(config)
        self.hub = hub
        await self._start_grpc(hub)
        if config.server.edge_enabled:
            await self._start_edge(hub)
        if config.monitoring.metrics.enabled:
            self._start_metrics(hub)
        self._watchdog = asyncio.create_task(self._watch(hub))
        self._write_endpoints(hub)
        log.info(
            "hub ready: gRPC %s, agents %s, edge %s, metrics %s",
            hub.endpoints.grpc,
            hub.endpoints.agent,
            hub.endpoints.edge or "off",
            hub.endpoints.metrics or "off",
        )
        return hub

    async def _start_grpc(self, hub: Hub) -> None:
        config = self.config
        server = grpc.aio.server(
            interceptors=[
                AuthInterceptor(
                    hub.tokens,
                    hub.audit,
                    addresses=ClientAddressResolver(
                        parse_networks(config.security.rate_limiting.trusted_proxies),
                        self._edge_key,
                    ),
                    limiter=self._limiter,
                )
            ],
            options=SERVER_OPTIONS,
        )
        auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(hub), server)
        tenant_pb2_grpc.add_TenantServiceServicer_to_server(TenantServicer(hub), server)
        client_pb2_grpc.add_ClientServiceServicer_to_server(ClientServicer(hub), server)
        user_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(hub), server)
        task_pb2_grpc.add_TaskServiceServicer_to_server(TaskServicer(hub), server)
        service_pb2_grpc.add_ServiceManagementServiceServicer_to_server(
            ServiceManagementServicer(hub), server
        )
        agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentServicer(hub), server)
        system_pb2_grpc.add_SystemServiceServicer_to_server(SystemServicer(hub), server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, reflection.SERVICE_NAME, health.SERVICE_NAME), server
        )
        host = config.server.host
        key = hub.ca.server_key_path.read_bytes()
        chain = hub.ca.server_cert_path.read_bytes()
        tls = config.server.tls
        if tls.cert_file:
            key = Path(tls.key_file).read_bytes()
            chain = Path(tls.cert_file).read_bytes()
        if tls.enabled:
            api_credentials = grpc.ssl_server_credentials([(key, chain)])
            try:
                api_port = server.add_secure_port(
                    f"{host}:{config.server.grpc_port}", api_credentials
                )
            except RuntimeError as exc:
                if not tls.cipher_suites:
                    raise
                raise ConfigError(
                    f"cannot bind the gRPC API port {config.server.grpc_port}: "
                    "the port is taken, or gRPC's TLS library rejects "
                    f"server.tls.cipher_suites = {tls.cipher_suites}"
                ) from exc
        else:
            api_port = server.add_insecure_port(f"{host}:{config.server.grpc_port}")
        # The agent port always requires a client certificate from the hub CA:
        # grpcio cannot request an optional client certificate on one port,
        # so JWT callers and agents use separate ports.
        agent_credentials = grpc.ssl_server_credentials(
            [
                (
                    hub.ca.server_key_path.read_bytes(),
                    hub.ca.server_cert_path.read_bytes(),
                )
            ],
            root_certificates=hub.ca.ca_pem,
            require_client_auth=True,
        )
        agent_port = server.add_secure_port(
            f"{host}:{config.server.agent_port}", agent_credentials
        )
        await server.start()
        self._grpc = server
        hub.endpoints.grpc = f"{_shown(host)}:{api_port}"
        hub.endpoints.grpc_port = api_port
        hub.endpoints.agent = f"{_shown(host)}:{agent_port}"
        hub.endpoints.agent_port = agent_port
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def _start_edge(self, hub: Hub) -> None:
        from ris_edge.app import EdgeSettings
        from ris_edge.serving import EdgeServer

        config = self.config
        tls = config.server.tls
        cors = config.server.cors
        # The edge reaches the gRPC API over loopback and verifies it with the
        # hub CA, or with server.tls.ca_file when the API uses a certificate of
        # the operator's own.
        ca_pem = None
        if tls.enabled:
            ca_pem = hub.ca.ca_pem
            if tls.cert_file:
                ca_pem = Path(tls.ca_file).read_bytes() if tls.ca_file else None
        settings = EdgeSettings(
            backend=f"127.0.0.1:{hub.endpoints.grpc_port}",
            ca_pem=ca_pem,
            server_name="localhost" if tls.enabled else None,
            cors_enabled=cors.enabled,
            cors_allowed_origins=cors.allowed_origins,
            cors_allowed_methods=cors.allowed_methods,
            cors_allowed_headers=cors.allowed_headers,
            edge_key=self._edge_key,
            trusted_proxies=tuple(config.security.rate_limiting.trusted_proxies),
        )
        ssl_options = {}
        if tls.enabled:
            ssl_options = {
                "ssl_certfile": tls.cert_file or str(hub.ca.server_cert_path),
                "ssl_keyfile": tls.key_file or str(hub.ca.server_key_path),
                "ssl_ciphers": tls_policy.edge_ciphers(
                    tls_policy.check_cipher_suites(
                        tls.cipher_suites, "server.tls.cipher_suites"
                    )
                ),
            }
        self._edge = await EdgeServer.start(
            settings, host=config.server.host, port=config.server.port, **ssl_options
        )
        scheme = "https" if tls.enabled else "http"
        hub.endpoints.edge = (
            f"{scheme}://{_shown(config.server.host)}:{self._edge.port}"
        )

    def _start_metrics(self, hub: Hub) -> None:
        from prometheus_client import start_http_server

        metrics = self.config.monitoring.metrics
        host = metrics.host or self.config.server.host
        server, _thread = start_http_server(metrics.port, addr=host)
        self._metrics_server = server
        hub.endpoints.metrics = (
            f"http://{_shown(host)}:{server.server_port}{metrics.path}"
        )

    def _write_endpoints(self, hub: Hub) -> None:
        endpoints = {
            "grpc": hub.endpoints.grpc,
            "agent": hub.endpoints.agent,
            "edge": hub.endpoints.edge,
            "metrics": hub.endpoints.metrics,
            "public_host": hub.endpoints.public_host,
            "ca_file": str(hub.ca.ca_cert_path.resolve()),
        }
        write_private(
            self.config.data_dir / "endpoints.json",
            json.dumps(endpoints, indent=2).encode(),
        )

    async def _watch(self, hub: Hub) -> None:
        settings = self.config.task_orchestration
        interval = settings.watchdog_interval
        next_purge = 0.0
        while True:
            await asyncio.sleep(interval)
            try:
                await hub.dispatcher.tick()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + HISTORY_PURGE_INTERVAL
                    await purge_history(
                        hub.store, settings.history_retention, time.time()
                    )
            except Exception:
                log.exception("task watchdog failed; retrying in %.1f s", interval)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking calls, ask agents to reconnect, then close everything."""
        log.info("hub stopping")
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        if self.hub is not None:
            self.hub.dispatcher.drain_all("hub shutting down")
            self.hub.dispatcher.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._edge is not None:
            await self._edge.stop()
        if self._grpc is not None:
            await self._grpc.stop(grace)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        if self.hub is not None:
            await self.hub.store.close()
            self.hub.audit.close()
        if self._master_key_lock is not None:
            self._master_key_lock.release()
        if self._limiter is not None:
            await self._limiter.close()
        log.info("hub stopped")
