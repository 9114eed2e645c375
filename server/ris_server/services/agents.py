"""AgentService: enrollment and the agent stream."""

import asyncio
import logging
import math
import time
from urllib.parse import unquote

import grpc
from cryptography.hazmat.primitives import serialization
from google.protobuf.timestamp_pb2 import Timestamp

from ris.v1 import agent_pb2, agent_pb2_grpc
from ris_server.certificates import issue_client_certificate
from ris_server.convert import timestamp
from ris_server.dispatch import AgentSession
from ris_server.errors import InvalidArgument, RisError, Unauthenticated
from ris_server.hub import Hub
from ris_server.interceptors import service_errors
from ris_server.pki import dns_names, serial_hex
from ris_server.services.agent_auth import (
    AgentAuthenticator,
    peer_certificate,
    same_public_key,
)
from ris_server.services.clients import hash_token
from ris_server.validation import check_host, check_text

log = logging.getLogger(__name__)

MAX_CONCURRENT_LIMIT = 1000


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._auth = AgentAuthenticator(hub)

    @service_errors
    async def Enroll(self, request, context):
        if not request.token:
            raise Unauthenticated("enrollment token is required")
        if not request.csr_pem:
            raise InvalidArgument("csr_pem is required")
        check_text(request.csr_pem, "csr_pem", 16384)
        check_host(request.hostname, "hostname")
        # A bad CSR must not use up the token, so it is checked first.
        public_key = self._hub.ca.check_csr(request.csr_pem)
        store = self._hub.store
        record = await store.consume_enrollment_token(
            hash_token(request.token), time.time()
        )
        if record is None:
            raise Unauthenticated("enrollment token is invalid, used or expired")
        client = await store.get_client_by_uid(record.tenant_code, record.client_uid)
        if client is None:
            raise Unauthenticated("enrollment token belongs to a deleted client")
        cert = await issue_client_certificate(
            self._hub,
            public_key,
            client.tenant_code,
            client.unique_client_id,
            request.hostname,
        )
        not_after = cert.not_valid_after_utc.timestamp()
        self._hub.audit.record(
            "client_management",
            "enroll",
            actor=client.unique_client_id,
            tenant=client.tenant_code,
            target=client.unique_client_id,
            serial=format(cert.serial_number, "x"),
        )
        log.info(
            "enrolled client %s of tenant %s from host %s",
            client.unique_client_id,
            client.tenant_code,
            request.hostname or "(not given)",
        )
        return agent_pb2.EnrollResponse(
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            ca_certificate_pem=self._hub.ca.ca_pem.decode(),
            unique_client_id=client.unique_client_id,
            tenant_code=client.tenant_code,
            client_config=self._hub.client_config(),
            expires_at=timestamp(not_after),
        )

    @service_errors
    async def RenewCertificate(self, request, context):
        identity = await self._auth.authenticate(context, "renew_certificate")
        if not request.csr_pem:
            raise InvalidArgument("csr_pem is required")
        check_text(request.csr_pem, "csr_pem", 16384)
        public_key = self._hub.ca.check_csr(request.csr_pem, allow_extensions=False)
        current = peer_certificate(context)
        if same_public_key(public_key, current.public_key()):
            raise InvalidArgument(
                "csr_pem carries the key of the current certificate; renew with "
                "a new key"
            )
        names = dns_names(current.public_bytes(serialization.Encoding.PEM))
        cert = await issue_client_certificate(
            self._hub,
            public_key,
            identity.tenant_code,
            identity.unique_client_id,
            names[0] if names else "",
            replaces=identity.serial,
        )
        serial = serial_hex(cert)
        self._hub.audit.record(
            "client_management",
            "renew_certificate",
            actor=identity.unique_client_id,
            tenant=identity.tenant_code,
            target=identity.unique_client_id,
            serial=serial,
            replaces=identity.serial,
        )
        log.info(
            "renewed the certificate of client %s: serial %s replaces %s",
            identity.unique_client_id,
            serial,
            identity.serial,
        )
        return agent_pb2.RenewCertificateResponse(
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            ca_certificate_pem=self._hub.ca.ca_pem.decode(),
            expires_at=timestamp(cert.not_valid_after_utc.timestamp()),
            serial=serial,
        )

    async def Connect(self, request_iterator, context):
        try:
            identity = await self._auth.authenticate(context, "connect")
        except RisError as rejection:
            await context.abort(rejection.code, rejection.message)
        store = self._hub.store
        cm = self._hub.config.client_management
        first = await self._read(context, cm.connection_timeout)
        if first is None or first is grpc.aio.EOF or not first.HasField("registration"):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "the first message on the stream must be a registration",
            )
        registration = first.registration
        claimed = (registration.tenant_code, registration.unique_client_id)
        actual = (identity.tenant_code, identity.unique_client_id)
        if any(claimed) and claimed != actual:
            message = (
                f"the registration names client {claimed[1][:64]!r} of tenant "
                f"{claimed[0][:64]!r}, but the certificate names client "
                f"{actual[1]} of tenant {actual[0]}"
            )
            self._auth.reject_logged(identity, "connect", message)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)
        try:
            await self._auth.note_first_use(identity)
        except RisError as exc:
            # A later renewal revoked this certificate after it was checked.
            log.info(
                "client %s rejected at first use: %s",
                identity.unique_client_id,
                exc.message,
            )
            await context.abort(exc.code, exc.message)
        max_concurrent = registration.max_concurrent_tasks or 1
        if not 1 <= max_concurrent <= MAX_CONCURRENT_LIMIT:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"max_concurrent_tasks must be 1 to {MAX_CONCURRENT_LIMIT}",
            )
        session = AgentSession(
            unique_client_id=identity.unique_client_id,
            tenant_code=identity.tenant_code,
            max_concurrent=max_concurrent,
            capabilities=frozenset(registration.capabilities[:32]),
            peer=context.peer(),
            certificate_serial=identity.serial,
        )
        await store.record_connection(
            identity.unique_client_id,
            connected=True,
            now=time.time(),
            ip_address=_peer_address(context.peer()),
            version=_printable(registration.version, 64),
            capabilities=[_printable(c, 64) for c in registration.capabilities[:32]],
            max_concurrent_tasks=max_concurrent,
        )
        log.info(
            "client %s connected from %s (session %s, %d slots, certificate %s)",
            identity.unique_client_id,
            context.peer(),
            session.session_id,
            max_concurrent,
            identity.serial,
        )
        session.send(
            agent_pb2.ConnectResponse(
                registration_ack=agent_pb2.RegistrationAck(
                    unique_client_id=identity.unique_client_id,
                    tenant_code=identity.tenant_code,
                    heartbeat_interval=max(1, round(cm.heartbeat_interval)),
                    connection_timeout=max(1, round(cm.connection_timeout)),
                    session_id=session.session_id,
                    certificate_serial=identity.serial,
                )
            )
        )
        await self._serve(session, context, registration)

    async def _serve(self, session: AgentSession, context, registration) -> None:
        dispatcher = self._hub.dispatcher
        reader = asyncio.create_task(self._read_loop(session, context))
        try:
            await dispatcher.attach(session, list(registration.running))
            while True:
                message = await session.outbound.get()
                if message is None:
                    break
                await context.write(message)
            if session.close_reason:
                await context.abort(
                    grpc.StatusCode[session.close_status], session.close_reason
                )
        finally:
            reader.cancel()
            current = dispatcher.detach(session)
            if current:
                await self._hub.store.record_connection(
                    session.unique_client_id, connected=False, now=time.time()
                )
            log.info(
                "client %s disconnected (session %s)",
                session.unique_client_id,
                session.session_id,
            )

    @staticmethod
    async def _read(context, timeout: float):
        """Return the next message, EOF at the stream's end, None on timeout."""
        try:
            return await asyncio.wait_for(context.read(), timeout)
        except TimeoutError:
            return None

    async def _read_loop(self, session: AgentSession, context) -> None:
        timeout = self._hub.config.client_management.connection_timeout
        dispatcher = self._hub.dispatcher
        try:
            while True:
                message = await self._read(context, timeout)
                if message is grpc.aio.EOF:
                    log.info("client %s closed its stream", session.unique_client_id)
                    return
                if message is None:
                    log.warning(
                        "client %s sent no heartbeat for %.0f s; dropping its stream",
                        session.unique_client_id,
                        timeout,
                    )
                    session.close(f"no heartbeat for {timeout:.0f} s")
                    return
                kind = message.WhichOneof("message")
                if kind == "heartbeat":
                    await self._on_heartbeat(session, message.heartbeat)
                elif kind == "result":
                    await dispatcher.on_result(session, message.result)
                elif kind == "progress":
                    await dispatcher.on_progress(session, message.progress)
                else:
                    log.warning(
                        "client %s sent an unexpected %s message",
                        session.unique_client_id,
                        kind,
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("client %s: stream reader failed", session.unique_client_id)
        finally:
            session.close()

    async def _on_heartbeat(self, session: AgentSession, heartbeat) -> None:
        # One store write per heartbeat. Writes that queue up share one
        # COMMIT (store/group_commit.py), so 10,000 agents at 30 s intervals
        # cost about 330 writes but far fewer fsyncs per second.
        usage = heartbeat.resource_usage
        await self._hub.store.record_heartbeat(
            session.unique_client_id,
            time.time(),
            {
                "cpu": _percent(usage.cpu),
                "memory": _percent(usage.memory),
                "disk": _percent(usage.disk),
            },
        )
        now = Timestamp()
        now.GetCurrentTime()
        session.send(
            agent_pb2.ConnectResponse(
                heartbeat_ack=agent_pb2.HeartbeatAck(
                    sequence=heartbeat.sequence, server_time=now
                )
            )
        )


def _printable(text: str, limit: int) -> str:
    """Keep an agent-reported label short and free of control characters."""
    return "".join(c for c in text[:limit] if c.isprintable())


def _percent(value: float) -> float:
    """Clamp an agent-reported percentage to 0..100; NaN becomes 0."""
    if math.isnan(value):
        return 0.0
    return min(100.0, max(0.0, value))


def _peer_address(peer: str) -> str:
    """Turn a gRPC peer string ("ipv4:1.2.3.4:5678") into its address.

    gRPC percent-encodes the brackets of an IPv6 peer ("ipv6:%5B::1%5D:5678").
    """
    kind, _, rest = unquote(peer).partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return ""
