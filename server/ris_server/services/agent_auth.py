"""Authentication of agents on the agent port by their client certificate.

TLS has already verified the certificate chain and validity period before a
call arrives, so an expired, not-yet-valid or foreign certificate never gets
here. This module checks what TLS cannot: the identity name, the hub's record
of the serial, revocation and the state of the client.
"""

import logging
import time

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ris.v1 import client_pb2
from ris_server.certificates import retire_certificates
from ris_server.errors import PermissionDenied, RisError, Unauthenticated
from ris_server.hub import Hub
from ris_server.pki import AgentIdentity, parse_identity

log = logging.getLogger(__name__)

# A certificate rejected again within this many seconds is logged at debug
# level and not audited again, so an agent retrying with a revoked
# certificate cannot flood the audit log.
REPEAT_WINDOW = 60.0
_MAX_REMEMBERED = 10_000


def peer_certificate(context: grpc.aio.ServicerContext) -> x509.Certificate | None:
    """Return the peer's verified client certificate, if it presented one."""
    pems = context.auth_context().get("x509_pem_cert") or []
    if not pems:
        return None
    try:
        return x509.load_pem_x509_certificate(pems[0])
    except ValueError:
        return None


def same_public_key(first, second) -> bool:
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return first.public_bytes(der, spki) == second.public_bytes(der, spki)


class AgentAuthenticator:
    """Checks the caller's certificate; logs and audits every rejection."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._recent: dict[str, float] = {}

    async def authenticate(
        self, context: grpc.aio.ServicerContext, action: str
    ) -> AgentIdentity:
        """Return the caller's identity, or raise a RisError to send back.

        Raises Unauthenticated without a certificate, without the identity
        name, or for a serial the hub has no matching record of, and
        PermissionDenied for a revoked certificate or a deleted or inactive
        client.
        """
        cert = peer_certificate(context)
        if cert is None:
            raise Unauthenticated(
                "agents call this method on the agent port with a client "
                "certificate issued by this hub"
            )
        identity = parse_identity(cert.public_bytes(serialization.Encoding.PEM))
        if identity is None:
            self._reject(
                None,
                action,
                "the client certificate has no identity name "
                "urn:ris:tenant:<code>:client:<id>",
                Unauthenticated,
            )
        hub = self._hub
        serial = identity.serial
        if serial in hub.revoked:
            self._revoked(identity, action)
        record = await hub.store.get_certificate(serial)
        if record is None:
            self._reject(
                identity,
                action,
                f"client certificate {serial} was not issued by this hub",
                Unauthenticated,
            )
        if record.revoked_at is not None:
            hub.revoked.add([serial])
            self._revoked(identity, action)
        if (record.tenant_code, record.client_uid) != (
            identity.tenant_code,
            identity.unique_client_id,
        ):
            self._reject(
                identity,
                action,
                f"client certificate {serial} names another client than the "
                "hub issued it to",
                Unauthenticated,
            )
        client = await hub.store.get_client_by_uid(
            identity.tenant_code, identity.unique_client_id
        )
        if client is None or client.status != client_pb2.CLIENT_STATUS_ACTIVE:
            self._reject(
                identity,
                action,
                f"client {identity.unique_client_id} is deleted or inactive",
                PermissionDenied,
            )
        return identity

    def _revoked(self, identity: AgentIdentity, action: str) -> None:
        self._reject(
            identity,
            action,
            f"client certificate {identity.serial} is revoked; enroll the agent "
            "again with a new enrollment token",
            PermissionDenied,
        )

    def _reject(
        self,
        identity: AgentIdentity | None,
        action: str,
        message: str,
        error: type[RisError],
    ) -> None:
        self.reject_logged(identity, action, message)
        raise error(message)

    def reject_logged(
        self, identity: AgentIdentity | None, action: str, message: str
    ) -> None:
        """Log and audit a rejected agent call, once per certificate a minute."""
        serial = identity.serial if identity else ""
        now = time.monotonic()
        key = f"{serial}:{message}"
        if now - self._recent.get(key, -REPEAT_WINDOW) < REPEAT_WINDOW:
            log.debug("rejected agent %s again: %s", action, message)
            return
        if len(self._recent) >= _MAX_REMEMBERED:
            self._recent.clear()
        self._recent[key] = now
        log.warning("rejected agent %s: %s", action, message)
        self._hub.audit.record(
            "client_management",
            f"{action}_rejected",
            actor=identity.unique_client_id if identity else "",
            tenant=identity.tenant_code if identity else "",
            target=identity.unique_client_id if identity else "",
            outcome="failure",
            serial=serial,
            reason=message,
        )

    async def note_first_use(self, identity: AgentIdentity) -> None:
        """Record a stream opened with a certificate; retire what it renewed.

        A stream opened with a renewed certificate revokes the certificate it
        replaces and every other renewal of that one, so at most one of them
        stays usable. Raises PermissionDenied when the certificate was revoked
        after authenticate() checked it, for example by a later renewal.
        """
        hub = self._hub
        reason = f"replaced by renewed certificate {identity.serial}"
        retired = await hub.store.mark_certificate_used(
            identity.serial, time.time(), reason
        )
        if retired is None:
            hub.revoked.add([identity.serial])
            self._revoked(identity, "connect")
        retire_certificates(
            hub,
            identity.tenant_code,
            identity.unique_client_id,
            [(serial, reason) for serial in retired],
        )
