"""ClientService: client records, their configuration and enrollment tokens."""

import hashlib
import logging
import secrets
import time
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ris.v1 import client_pb2, client_pb2_grpc
from ris_server.certificates import (
    MAX_REASON_LENGTH,
    certificate_to_proto,
    issue_client_certificate,
    revoke_client_certificates,
)
from ris_server.convert import client_to_proto, timestamp
from ris_server.errors import InvalidArgument, NotFound, ResourceExhausted
from ris_server.hub import Hub
from ris_server.interceptors import current_principal, service_errors
from ris_server.models import Client, EnrollmentToken
from ris_server.pki import serial_hex
from ris_server.validation import (
    check_host,
    check_name,
    check_page,
    check_text,
    check_uuid,
)

log = logging.getLogger(__name__)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


class ClientServicer(client_pb2_grpc.ClientServiceServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def _audit(self, principal, action: str, client: Client, **details) -> None:
        self._hub.audit.record(
            "client_management",
            action,
            actor=principal.user_id,
            tenant=client.tenant_code,
            target=client.unique_client_id,
            **details,
        )

    def _proto(self, client: Client) -> client_pb2.Client:
        session = self._hub.dispatcher.session(client.unique_client_id)
        client.connected = session is not None
        running = len(session.inflight) if session else 0
        return client_to_proto(client, running)

    async def _get(self, client_id: int, tenant_code: str = "") -> Client:
        _, tenant = await self._hub.scoped_tenant(tenant_code)
        if client_id <= 0:
            raise InvalidArgument(f"id must be a positive integer, got {client_id}")
        client = await self._hub.store.get_client(tenant.code, client_id)
        if client is None:
            raise NotFound(f"client {client_id} not found")
        return client

    @service_errors
    async def ListClients(self, request, context):
        _, tenant = await self._hub.scoped_tenant(request.tenant_code)
        page, per_page = check_page(request.page, request.per_page)
        if request.status not in client_pb2.ClientStatus.values():
            raise InvalidArgument(f"status {request.status} is not a client status")
        if request.connection_status not in client_pb2.ConnectionStatus.values():
            raise InvalidArgument(
                f"connection_status {request.connection_status} is not a "
                "connection status"
            )
        connected = {
            client_pb2.CONNECTION_STATUS_CONNECTED: True,
            client_pb2.CONNECTION_STATUS_DISCONNECTED: False,
        }.get(request.connection_status)
        clients, total = await self._hub.store.list_clients(
            tenant.code, (page - 1) * per_page, per_page, request.status, connected
        )
        return client_pb2.ListClientsResponse(
            clients=[self._proto(c) for c in clients],
            total=total,
            page=page,
            per_page=per_page,
        )

    @service_errors
    async def GetClient(self, request, context):
        return client_pb2.GetClientResponse(
            client=self._proto(await self._get(request.id, request.tenant_code))
        )

    @service_errors
    async def AddClient(self, request, context):
        principal, tenant = await self._hub.scoped_tenant(request.tenant_code)
        check_name(request.name)
        check_text(request.description, "description", 2000)
        check_host(request.host)
        store = self._hub.store
        limit = (
            tenant.limits.get("max_clients")
            or self._hub.config.client_management.max_clients
        )
        if await store.count_clients(tenant.code) >= limit:
            raise ResourceExhausted(
                f"tenant {tenant.code!r} has reached its limit of {limit} clients"
            )
        now = _now_ms()
        client = await store.create_client(
            Client(
                id=0,
                unique_client_id=str(uuid.uuid4()),
                tenant_code=tenant.code,
                name=request.name,
                description=request.description,
                host=request.host,
                status=client_pb2.CLIENT_STATUS_ACTIVE,
                created_ms=now,
                updated_ms=now,
            )
        )
        self._audit(principal, "add_client", client)
        log.info(
            "user %s added client %s (%s) to tenant %s",
            principal.user_id,
            client.id,
            client.unique_client_id,
            tenant.code,
        )
        return client_pb2.AddClientResponse(client=self._proto(client))

    @service_errors
    async def UpdateClient(self, request, context):
        client = await self._get(request.id, request.tenant_code)
        if request.HasField("name"):
            client.name = check_name(request.name)
        if request.HasField("description"):
            client.description = check_text(request.description, "description", 2000)
        if request.HasField("host"):
            client.host = check_host(request.host)
        if request.status:
            if request.status not in client_pb2.ClientStatus.values():
                raise InvalidArgument(f"status {request.status} is not a client status")
            client.status = request.status
        client.updated_ms = _now_ms()
        await self._hub.store.update_client(client)
        principal = current_principal()
        self._audit(principal, "update_client", client)
        if client.status == client_pb2.CLIENT_STATUS_INACTIVE:
            await revoke_client_certificates(
                self._hub,
                client.unique_client_id,
                client.tenant_code,
                reason="client disabled",
                actor=principal.user_id,
            )
            self._hub.dispatcher.close_client(client.unique_client_id)
        return client_pb2.UpdateClientResponse(client=self._proto(client))

    @service_errors
    async def DeleteClient(self, request, context):
        client = await self._get(request.id, request.tenant_code)
        store = self._hub.store
        now = time.time()
        await store.delete_client(client.tenant_code, client.id)
        serials = await store.revoke_client_certificates(
            client.unique_client_id, now, "client deleted"
        )
        self._hub.revoked.add(serials)
        self._hub.dispatcher.close_client(client.unique_client_id)
        ended = await store.cancel_client_tasks(
            client.unique_client_id, "the client was deleted", now
        )
        for task_id in ended:
            self._hub.dispatcher.notify_finished(task_id)
        self._audit(
            current_principal(),
            "delete_client",
            client,
            cancelled=len(ended),
            revoked_serials=",".join(serials),
        )
        log.info("deleted client %s (%s)", client.id, client.unique_client_id)
        return client_pb2.DeleteClientResponse(
            id=client.id, unique_client_id=client.unique_client_id
        )

    @service_errors
    async def GetClientConfig(self, request, context):
        _, tenant = await self._hub.caller()
        check_uuid(request.client_id, "client_id")
        check_host(request.hostname, "hostname", required=True)
        client = await self._hub.store.get_client_by_uid(tenant.code, request.client_id)
        if client is None:
            raise NotFound(f"client {request.client_id} not found")
        # The key is made here because this call hands out a complete
        # credential; agents that enroll keep their key to themselves.
        key = ec.generate_private_key(ec.SECP256R1())
        cert = await issue_client_certificate(
            self._hub,
            key.public_key(),
            tenant.code,
            client.unique_client_id,
            request.hostname,
        )
        self._audit(
            current_principal(), "issue_certificate", client, serial=serial_hex(cert)
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return client_pb2.GetClientConfigResponse(
            client_config=self._hub.client_config(),
            certificates=client_pb2.ClientCertificates(
                client_cert=cert.public_bytes(serialization.Encoding.PEM).decode(),
                client_key=key_pem.decode(),
                ca_cert=self._hub.ca.ca_pem.decode(),
            ),
        )

    @service_errors
    async def CreateEnrollmentToken(self, request, context):
        client = await self._get(request.id, request.tenant_code)
        ttl = request.ttl_seconds or int(
            self._hub.config.client_management.enrollment_token_ttl
        )
        if not 60 <= ttl <= 604800:
            raise InvalidArgument(f"ttl_seconds must be 60 to 604800, got {ttl}")
        token = secrets.token_urlsafe(32)
        expires_at = time.time() + ttl
        await self._hub.store.save_enrollment_token(
            EnrollmentToken(
                hash_token(token),
                client.unique_client_id,
                client.tenant_code,
                expires_at,
            )
        )
        self._audit(current_principal(), "create_enrollment_token", client)
        log.info("created an enrollment token for client %s", client.unique_client_id)
        return client_pb2.CreateEnrollmentTokenResponse(
            token=token,
            expires_at=timestamp(expires_at),
            unique_client_id=client.unique_client_id,
            enroll_endpoint=f"{self._hub.endpoints.public_host}:{self._hub.endpoints.grpc_port}",
            ca_certificate_pem=self._hub.ca.ca_pem.decode(),
        )

    @service_errors
    async def ListClientCertificates(self, request, context):
        client = await self._get(request.id, request.tenant_code)
        records = await self._hub.store.list_client_certificates(
            client.unique_client_id
        )
        return client_pb2.ListClientCertificatesResponse(
            certificates=[certificate_to_proto(record) for record in records]
        )

    @service_errors
    async def RevokeClientCertificates(self, request, context):
        client = await self._get(request.id, request.tenant_code)
        serial = request.serial.strip().lower().lstrip("0")
        if serial and not _is_hex(serial):
            raise InvalidArgument(
                f"serial {request.serial[:80]!r} is not a hexadecimal serial number"
            )
        reason = check_text(request.reason, "reason", MAX_REASON_LENGTH)
        if serial:
            record = await self._hub.store.get_certificate(serial)
            if record is None or record.client_uid != client.unique_client_id:
                raise NotFound(
                    f"certificate {serial} was not issued to client {client.id}"
                )
        serials, closed = await revoke_client_certificates(
            self._hub,
            client.unique_client_id,
            client.tenant_code,
            reason=reason or "revoked by an administrator",
            actor=current_principal().user_id,
            serial=serial,
        )
        return client_pb2.RevokeClientCertificatesResponse(
            revoked_serials=serials, stream_closed=closed
        )


def _is_hex(text: str) -> bool:
    return len(text) <= 40 and all(c in "0123456789abcdef" for c in text)
