"""Client certificate lifecycle on the hub: issue and record, revoke.

Every certificate the hub signs for a client is recorded in the store by
serial. A revoked serial goes into the store and into `Hub.revoked`, the
in-memory set the agent port checks on every stream and renewal.
"""

import logging
import time

from cryptography import x509

from ris.v1 import client_pb2
from ris_server.errors import PermissionDenied
from ris_server.hub import Hub
from ris_server.pki import serial_hex

log = logging.getLogger(__name__)

MAX_REASON_LENGTH = 500


async def issue_client_certificate(
    hub: Hub,
    public_key,
    tenant_code: str,
    unique_client_id: str,
    hostname: str,
    replaces: str = "",
) -> x509.Certificate:
    """Sign a certificate with the configured lifetime and record it.

    `replaces` names the serial whose holder renewed into this certificate.
    Renewing counts as using `replaces`. So the store transaction that
    records the renewal also revokes the certificate `replaces` renewed and
    that one's other renewals. It revokes every unused renewal of `replaces`
    too, so at most one renewal of a certificate stays usable. Raises
    PermissionDenied when `replaces` was revoked after the caller checked it.
    """
    days = hub.config.client_management.client_cert_days
    cert = hub.ca.issue_client_certificate(
        public_key, tenant_code, unique_client_id, hostname, days
    )
    serial = serial_hex(cert)
    not_after = cert.not_valid_after_utc.timestamp()
    if not replaces:
        await hub.store.record_certificate(
            serial, unique_client_id, tenant_code, not_after, issued_at=time.time()
        )
        return cert
    revoked = await hub.store.record_renewal(
        serial,
        not_after,
        time.time(),
        replaces,
        retire_reason=f"replaced by renewed certificate {replaces}",
        supersede_reason=f"superseded by a later renewal, certificate {serial}",
    )
    if revoked is None:
        log.warning(
            "client %s tried to renew revoked certificate %s",
            unique_client_id,
            replaces,
        )
        raise PermissionDenied(
            f"client certificate {replaces} is revoked; enroll the agent again "
            "with a new enrollment token"
        )
    retire_certificates(hub, tenant_code, unique_client_id, revoked)
    return cert


def retire_certificates(
    hub: Hub,
    tenant_code: str,
    unique_client_id: str,
    revoked: list[tuple[str, str]],
) -> None:
    """Apply the (serial, reason) revocations the store made for a renewal.

    Adds the serials to `Hub.revoked`, closes the client's stream with
    PERMISSION_DENIED when it uses one of them, and audits each one as
    `retire_certificate`. Running tasks are not retried here: the agent
    that renewed reports them when its new stream attaches, and a client
    whose stream ends without a new one goes through the lost-agent path.
    """
    if not revoked:
        return
    hub.revoked.add([serial for serial, _ in revoked])
    session = hub.dispatcher.session(unique_client_id)
    for serial, reason in revoked:
        closed = session is not None and session.certificate_serial == serial
        if closed:
            session.close(
                f"client certificate revoked: {reason}", status="PERMISSION_DENIED"
            )
        hub.audit.record(
            "client_management",
            "retire_certificate",
            actor=unique_client_id,
            tenant=tenant_code,
            target=unique_client_id,
            serial=serial,
            reason=reason,
            stream_closed=closed,
        )
        log.info(
            "revoked certificate %s of client %s: %s%s",
            serial,
            unique_client_id,
            reason,
            "; closed its stream" if closed else "",
        )


async def revoke_client_certificates(
    hub: Hub,
    unique_client_id: str,
    tenant_code: str,
    *,
    reason: str,
    actor: str,
    serial: str = "",
) -> tuple[list[str], bool]:
    """Revoke a client's certificates and end a stream that uses one.

    Revokes only `serial` when it is set, else every certificate of the
    client that is not revoked yet. When the client's stream used a revoked
    certificate, or the client has no stream, the tasks it was running go
    back to the queue now through the retry path: an agent holding a revoked
    certificate cannot come back to finish them. Returns the serials this
    call revoked and whether a stream was closed.
    """
    now = time.time()
    serials = await hub.store.revoke_client_certificates(
        unique_client_id, now, reason, serial
    )
    if not serials:
        return [], False
    hub.revoked.add(serials)
    dispatcher = hub.dispatcher
    session = dispatcher.session(unique_client_id)
    closed = False
    if session is not None and session.certificate_serial in serials:
        session.close(
            f"client certificate revoked: {reason}", status="PERMISSION_DENIED"
        )
        closed = True
    if closed or session is None:
        await dispatcher.retry_running(
            unique_client_id, f"client certificate revoked: {reason}"
        )
    hub.audit.record(
        "client_management",
        "revoke_certificate",
        actor=actor,
        tenant=tenant_code,
        target=unique_client_id,
        serials=",".join(serials),
        reason=reason,
        stream_closed=closed,
    )
    log.warning(
        "revoked %d certificate(s) of client %s (%s): %s%s",
        len(serials),
        unique_client_id,
        ", ".join(serials),
        reason,
        "; closed its stream" if closed else "",
    )
    return serials, closed


def certificate_to_proto(record) -> client_pb2.ClientCertificate:
    """Convert a stored CertificateRecord to its API message."""
    message = client_pb2.ClientCertificate(
        serial=record.serial,
        revocation_reason=record.revocation_reason,
        replaces_serial=record.replaces,
    )
    message.expires_at.FromNanoseconds(int(record.not_after * 1e9))
    for name in ("issued_at", "revoked_at", "first_used_at"):
        value = getattr(record, name)
        if value is not None:
            getattr(message, name).FromNanoseconds(int(value * 1e9))
    return message
