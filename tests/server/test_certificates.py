"""Client certificates: attacks on the agent port, revocation and renewal.

Attack certificates are built here with `cryptography` and signed by the
hub's own CA where the attack needs a chain that TLS accepts.
"""

import datetime
import json
import time

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ris.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    client_pb2,
    system_pb2,
    task_pb2,
    tenant_pb2,
)
from ris_server.app import HubServer
from ris_server.config import ConfigError, load_config
from ris_server.pki import serial_hex
from tests.server.conftest import connect_api
from tests.server.test_agent_stream import RawAgent, enroll, wait_status
from tests.server.test_api import add_client, http_spec, rpc_error
from tests.support import Api, csr_for, pem_key, write_config

Code = grpc.StatusCode
NOW = datetime.datetime.now


def forge(hub, uri=None, *, valid_from=None, valid_to=None, key=None):
    """Return (key PEM, cert PEM) for a certificate signed by the hub's CA."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = NOW(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agent")]))
        .issuer_name(hub.ca.ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from or now - datetime.timedelta(minutes=1))
        .not_valid_after(valid_to or now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    )
    if uri is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), False
        )
    cert = builder.sign(hub.ca.ca_key, hashes.SHA256())
    return pem_key(key), cert.public_bytes(serialization.Encoding.PEM)


def uri_for(client, tenant="default"):
    return f"urn:ris:tenant:{tenant}:client:{client.unique_client_id}"


def serial_of(cert_pem: bytes) -> str:
    return serial_hex(x509.load_pem_x509_certificate(cert_pem))


class CallStatus:
    """Final status of a stream: code() and details(), like an AioRpcError."""

    def __init__(self, code, details):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


async def connect_error(hub, key, cert) -> CallStatus:
    """Open a stream, register, and return the status the hub ended it with.

    The hub may end the call before it reads the registration, and the write
    then fails on the client with its own error, so the status is read from
    the call itself.
    """
    agent = RawAgent(hub, key, cert)
    try:
        with pytest.raises(grpc.aio.AioRpcError):
            await agent.register()
        return CallStatus(await agent.call.code(), await agent.call.details())
    finally:
        await agent.close()


async def assert_healthy(api, hub_server):
    """The hub still responds and still accepts a genuine agent."""
    health = await api.system.GetHealth(system_pb2.GetHealthRequest())
    assert health.status
    client = await add_client(api, f"healthy-{time.monotonic_ns()}")
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert)
    ack = await agent.register()
    assert ack.unique_client_id == client.unique_client_id
    await agent.close()


async def receive_skipping_acks(agent, timeout=5.0) -> agent_pb2.ConnectResponse:
    """Return the next message that is not a heartbeat acknowledgement."""
    while True:
        message = await agent.receive(timeout)
        if not message.HasField("heartbeat_ack"):
            return message


def audit_entries(hub_server) -> list[dict]:
    path = hub_server.config.data_dir / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()]


# Attacks the TLS handshake stops: the call never reaches the servicer.
@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime.timedelta(days=-3), datetime.timedelta(days=-1)),
        (datetime.timedelta(days=1), datetime.timedelta(days=3)),
    ],
    ids=["expired", "not_yet_valid"],
)
async def test_out_of_date_certificate_rejected(api, hub_server, start, end):
    client = await add_client(api)
    now = NOW(datetime.UTC)
    key, cert = forge(
        hub_server.hub, uri_for(client), valid_from=now + start, valid_to=now + end
    )
    error = await connect_error(hub_server.hub, key, cert)
    assert error.code() == Code.UNAVAILABLE, error.details()
    await assert_healthy(api, hub_server)


async def test_certificate_without_identity_rejected(api, hub_server):
    key, cert = forge(hub_server.hub, uri=None)
    error = await connect_error(hub_server.hub, key, cert)
    assert error.code() == Code.UNAUTHENTICATED
    assert "no identity name" in error.details()
    rejected = [
        e for e in audit_entries(hub_server) if e["action"] == "connect_rejected"
    ]
    assert rejected
    assert rejected[-1]["outcome"] == "failure"
    await assert_healthy(api, hub_server)


async def test_certificate_for_unknown_client_rejected(api, hub_server):
    ghost = client_pb2.Client(unique_client_id="6f1c1e0a-0000-4000-8000-000000000000")
    key, cert = forge(hub_server.hub, uri_for(ghost))
    error = await connect_error(hub_server.hub, key, cert)
    assert error.code() == Code.UNAUTHENTICATED
    assert "not issued by this hub" in error.details()
    # Even with a record of the serial (a restored database, say), a client
    # that does not exist is refused.
    await hub_server.hub.store.record_certificate(
        serial_of(cert), ghost.unique_client_id, "default", time.time() + 3600
    )
    error = await connect_error(hub_server.hub, key, cert)
    assert error.code() == Code.PERMISSION_DENIED
    assert "deleted or inactive" in error.details()
    await assert_healthy(api, hub_server)


async def test_certificate_naming_other_tenant_rejected(api, hub_server):
    await api.tenants.CreateTenant(
        tenant_pb2.CreateTenantRequest(code="t2", name="Two"), metadata=api.metadata
    )
    client = await add_client(api)
    key, cert = forge(hub_server.hub, uri_for(client, tenant="t2"))
    error = await connect_error(hub_server.hub, key, cert)
    assert error.code() == Code.UNAUTHENTICATED
    # A recorded serial whose identity name differs from the record.
    await hub_server.hub.store.record_certificate(
        serial_of(cert), client.unique_client_id, "default", time.time() + 3600
    )
    error = await connect_error(hub_server.hub, key, cert)
    assert error.code() == Code.UNAUTHENTICATED
    assert "another client" in error.details()
    await assert_healthy(api, hub_server)


async def test_registration_claiming_other_client_rejected(api, hub_server):
    mine = await add_client(api, "mine")
    other = await add_client(api, "other")
    key, cert, _ = await enroll(api, mine)
    agent = RawAgent(hub_server.hub, key, cert)
    await agent.write(
        agent_pb2.ConnectRequest(
            registration=agent_pb2.Registration(
                unique_client_id=other.unique_client_id,
                tenant_code="default",
                max_concurrent_tasks=1,
            )
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await agent.receive()
    assert info.value.code() == Code.PERMISSION_DENIED
    assert other.unique_client_id in info.value.details()
    await agent.close()
    fetched = await api.clients.GetClient(
        client_pb2.GetClientRequest(id=other.id), metadata=api.metadata
    )
    assert fetched.client.connection_status != client_pb2.CONNECTION_STATUS_CONNECTED
    # The same agent naming itself correctly is accepted.
    agent = RawAgent(hub_server.hub, key, cert)
    await agent.write(
        agent_pb2.ConnectRequest(
            registration=agent_pb2.Registration(
                unique_client_id=mine.unique_client_id,
                tenant_code="default",
                max_concurrent_tasks=1,
            )
        )
    )
    ack = (await agent.receive()).registration_ack
    assert ack.unique_client_id == mine.unique_client_id
    assert ack.certificate_serial == serial_of(cert)
    await agent.close()


# Revocation.
async def test_revocation_closes_stream_and_requeues_task(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert)
    await agent.register(slots=1)
    agent.start_heartbeats()
    task = (
        await api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id, task=http_spec(), run_async=True
            ),
            metadata=api.metadata,
        )
    ).task
    assignment = (await receive_skipping_acks(agent)).assignment
    assert (assignment.task_id, assignment.attempt) == (task.task_id, 1)

    revoked = await api.clients.RevokeClientCertificates(
        client_pb2.RevokeClientCertificatesRequest(id=client.id, reason="laptop lost"),
        metadata=api.metadata,
    )
    assert list(revoked.revoked_serials) == [serial_of(cert)]
    assert revoked.stream_closed
    with pytest.raises(grpc.aio.AioRpcError) as info:
        while True:
            await agent.receive()
    assert info.value.code() == Code.PERMISSION_DENIED
    assert "laptop lost" in info.value.details()
    await agent.close()

    queued = await wait_status(api, task.task_id, task_pb2.TASK_STATUS_QUEUED)
    assert queued.status == task_pb2.TASK_STATUS_QUEUED
    error = await connect_error(hub_server.hub, key, cert)
    assert error.code() == Code.PERMISSION_DENIED
    assert "revoked" in error.details()

    listing = await api.clients.ListClientCertificates(
        client_pb2.ListClientCertificatesRequest(id=client.id), metadata=api.metadata
    )
    assert listing.certificates[0].revocation_reason == "laptop lost"
    assert listing.certificates[0].HasField("revoked_at")
    actions = [e["action"] for e in audit_entries(hub_server)]
    assert "revoke_certificate" in actions
    assert "connect_rejected" in actions

    # Enrolling again with a new token brings the task back to this client.
    key2, cert2, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key2, cert2)
    await agent.register(slots=1)
    retry = (await agent.receive(timeout=15)).assignment
    assert (retry.task_id, retry.attempt) == (task.task_id, 2)
    await agent.send_result(task.task_id, 2, task_pb2.TASK_STATUS_COMPLETED)
    assert (await agent.receive()).result_ack.attempt == 2
    done = await wait_status(api, task.task_id, task_pb2.TASK_STATUS_COMPLETED)
    assert done.status == task_pb2.TASK_STATUS_COMPLETED
    await agent.close()


async def test_revoke_rejects_bad_serial_and_reason(api):
    client = await add_client(api)
    for serial, code in (("xyz", Code.INVALID_ARGUMENT), ("abc123", Code.NOT_FOUND)):
        error = await rpc_error(
            api.clients.RevokeClientCertificates(
                client_pb2.RevokeClientCertificatesRequest(id=client.id, serial=serial),
                metadata=api.metadata,
            )
        )
        assert error.code() == code, serial
    error = await rpc_error(
        api.clients.RevokeClientCertificates(
            client_pb2.RevokeClientCertificatesRequest(id=client.id, reason="x" * 501),
            metadata=api.metadata,
        )
    )
    assert error.code() == Code.INVALID_ARGUMENT


async def test_disabling_client_revokes_certificates(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    await api.clients.UpdateClient(
        client_pb2.UpdateClientRequest(
            id=client.id, status=client_pb2.CLIENT_STATUS_INACTIVE
        ),
        metadata=api.metadata,
    )
    assert serial_of(cert) in hub_server.hub.revoked
    await api.clients.UpdateClient(
        client_pb2.UpdateClientRequest(
            id=client.id, status=client_pb2.CLIENT_STATUS_ACTIVE
        ),
        metadata=api.metadata,
    )
    error = await connect_error(hub_server.hub, key, cert)
    assert error.code() == Code.PERMISSION_DENIED
    assert "revoked" in error.details()


async def test_revoked_serials_survive_restart(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    await api.clients.DeleteClient(
        client_pb2.DeleteClientRequest(id=client.id), metadata=api.metadata
    )
    # A second hub process on the same data directory loads the set at start.
    restarted = HubServer(hub_server.config)
    await restarted.start()
    try:
        assert serial_of(cert) in restarted.hub.revoked
    finally:
        await restarted.stop(grace=0.2)


# Renewal.
def agent_stub(hub, key, cert):
    credentials = grpc.ssl_channel_credentials(hub.ca.ca_pem, key, cert)
    channel = grpc.aio.secure_channel(hub.endpoints.agent, credentials)
    return channel, agent_pb2_grpc.AgentServiceStub(channel)


async def test_renewal_keeps_identity_and_retires_old(api, hub_server):
    hub = hub_server.hub
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    new_key = ec.generate_private_key(ec.SECP256R1())
    channel, stub = agent_stub(hub, key, cert)
    async with channel:
        renewed = await stub.RenewCertificate(
            agent_pb2.RenewCertificateRequest(csr_pem=bare_csr(new_key))
        )
    new_cert = x509.load_pem_x509_certificate(renewed.certificate_pem.encode())
    uris = new_cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.UniformResourceIdentifier)
    assert uris == [uri_for(client)]
    assert renewed.serial == serial_hex(new_cert)
    assert renewed.serial != serial_of(cert)
    days = hub.config.client_management.client_cert_days
    lifetime = new_cert.not_valid_after_utc - NOW(datetime.UTC)
    assert abs(lifetime - datetime.timedelta(days=days)) < datetime.timedelta(minutes=1)
    record = await hub.store.get_certificate(renewed.serial)
    assert record.replaces == serial_of(cert)

    # The first stream with the new certificate revokes the old one.
    agent = RawAgent(hub, pem_key(new_key), renewed.certificate_pem.encode())
    ack = await agent.register()
    assert ack.certificate_serial == renewed.serial
    await agent.close()
    assert serial_of(cert) in hub.revoked
    actions = [e["action"] for e in audit_entries(hub_server)]
    assert "renew_certificate" in actions
    assert "retire_certificate" in actions


def bare_csr(key) -> str:
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    return (
        csr.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
    )


async def test_renewal_rejects_bad_requests(api, hub_server):
    hub = hub_server.hub
    client = await add_client(api)
    key_pem, cert, _ = await enroll(api, client)
    current_key = serialization.load_pem_private_key(key_pem, password=None)
    with_names = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier("urn:ris:tenant:t2:client:x")]
            ),
            False,
        )
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    channel, stub = agent_stub(hub, key_pem, cert)
    async with channel:
        for csr, fragment in (
            (with_names, "requests extensions"),
            (bare_csr(current_key), "new key"),
            ("", "required"),
        ):
            error = await rpc_error(
                stub.RenewCertificate(agent_pb2.RenewCertificateRequest(csr_pem=csr))
            )
            assert error.code() == Code.INVALID_ARGUMENT, fragment
            assert fragment in error.details()
    # Without a client certificate (the API port) there is no identity.
    error = await rpc_error(
        api.agents.RenewCertificate(
            agent_pb2.RenewCertificateRequest(
                csr_pem=csr_for(ec.generate_private_key(ec.SECP256R1()))
            )
        )
    )
    assert error.code() == Code.UNAUTHENTICATED
    # A revoked certificate cannot renew itself.
    await api.clients.RevokeClientCertificates(
        client_pb2.RevokeClientCertificatesRequest(id=client.id), metadata=api.metadata
    )
    channel, stub = agent_stub(hub, key_pem, cert)
    async with channel:
        error = await rpc_error(
            stub.RenewCertificate(
                agent_pb2.RenewCertificateRequest(
                    csr_pem=bare_csr(ec.generate_private_key(ec.SECP256R1()))
                )
            )
        )
    assert error.code() == Code.PERMISSION_DENIED


async def renew(hub, key_pem: bytes, cert_pem: bytes) -> tuple[bytes, bytes]:
    """Renew with a new key; return (new key PEM, new certificate PEM)."""
    new_key = ec.generate_private_key(ec.SECP256R1())
    channel, stub = agent_stub(hub, key_pem, cert_pem)
    async with channel:
        renewed = await stub.RenewCertificate(
            agent_pb2.RenewCertificateRequest(csr_pem=bare_csr(new_key))
        )
    return pem_key(new_key), renewed.certificate_pem.encode()


async def renew_error(hub, key_pem: bytes, cert_pem: bytes) -> grpc.aio.AioRpcError:
    channel, stub = agent_stub(hub, key_pem, cert_pem)
    async with channel:
        return await rpc_error(
            stub.RenewCertificate(
                agent_pb2.RenewCertificateRequest(
                    csr_pem=bare_csr(ec.generate_private_key(ec.SECP256R1()))
                )
            )
        )


async def certificate_states(api, client) -> dict[str, str]:
    """Map each serial of the client to "valid" or its revocation reason."""
    listing = await api.clients.ListClientCertificates(
        client_pb2.ListClientCertificatesRequest(id=client.id), metadata=api.metadata
    )
    states = {}
    for item in listing.certificates:
        assert item.HasField("revoked_at") == bool(item.revocation_reason)
        states[item.serial] = item.revocation_reason or "valid"
    return states


async def test_second_renewal_supersedes_first(api, hub_server):
    hub = hub_server.hub
    client = await add_client(api)
    key_a, cert_a, _ = await enroll(api, client)
    key_b, cert_b = await renew(hub, key_a, cert_a)
    key_c, cert_c = await renew(hub, key_a, cert_a)
    a, b, c = serial_of(cert_a), serial_of(cert_b), serial_of(cert_c)
    assert b in hub.revoked
    assert a not in hub.revoked
    assert c not in hub.revoked
    states = await certificate_states(api, client)
    assert states == {
        a: "valid",
        b: f"superseded by a later renewal, certificate {c}",
        c: "valid",
    }

    error = await connect_error(hub, key_b, cert_b)
    assert error.code() == Code.PERMISSION_DENIED
    assert "revoked" in error.details()
    assert (await renew_error(hub, key_b, cert_b)).code() == Code.PERMISSION_DENIED

    agent = RawAgent(hub, key_c, cert_c)
    ack = await agent.register()
    assert ack.certificate_serial == c
    await agent.close()
    assert a in hub.revoked
    states = await certificate_states(api, client)
    assert states[a] == f"replaced by renewed certificate {c}"
    assert states[c] == "valid"
    retired = [
        entry
        for entry in audit_entries(hub_server)
        if entry["action"] == "retire_certificate"
        and entry["target"] == client.unique_client_id
    ]
    assert [entry["details"]["serial"] for entry in retired] == [b, a]
    assert all(entry["kind"] == "client_management" for entry in retired)


async def test_used_renewal_revokes_sibling_renewals(api, hub_server):
    """Sibling renewals recorded before renewals superseded each other."""
    hub = hub_server.hub
    client = await add_client(api)
    key_a, cert_a, _ = await enroll(api, client)
    a = serial_of(cert_a)
    siblings = []
    for _ in range(2):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = hub.ca.issue_client_certificate(
            key.public_key(), "default", client.unique_client_id, "h1", 1
        )
        await hub.store.record_certificate(
            serial_hex(cert),
            client.unique_client_id,
            "default",
            cert.not_valid_after_utc.timestamp(),
            issued_at=time.time(),
            replaces=a,
        )
        siblings.append((pem_key(key), cert.public_bytes(serialization.Encoding.PEM)))
    (key_b, cert_b), (key_c, cert_c) = siblings
    b, c = serial_of(cert_b), serial_of(cert_c)

    old = RawAgent(hub, key_a, cert_a)
    await old.register()
    agent = RawAgent(hub, key_b, cert_b)
    assert (await agent.register()).certificate_serial == b
    # The stream that used the replaced certificate ends as revoked.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        while True:
            await old.receive()
    assert info.value.code() == Code.PERMISSION_DENIED
    assert f"replaced by renewed certificate {b}" in info.value.details()
    await old.close()

    assert a in hub.revoked
    assert c in hub.revoked
    error = await connect_error(hub, key_c, cert_c)
    assert error.code() == Code.PERMISSION_DENIED
    assert (await renew_error(hub, key_c, cert_c)).code() == Code.PERMISSION_DENIED
    states = await certificate_states(api, client)
    assert states == {
        a: f"replaced by renewed certificate {b}",
        b: "valid",
        c: f"replaced by renewed certificate {b}",
    }
    # B kept its stream: C never took it over.
    assert hub.dispatcher.session(client.unique_client_id).certificate_serial == b
    await agent.close()


async def test_replaced_certificate_cannot_renew(api, hub_server):
    hub = hub_server.hub
    client = await add_client(api)
    key_a, cert_a, _ = await enroll(api, client)
    key_b, cert_b = await renew(hub, key_a, cert_a)
    agent = RawAgent(hub, key_b, cert_b)
    await agent.register()
    await agent.close()
    error = await renew_error(hub, key_a, cert_a)
    assert error.code() == Code.PERMISSION_DENIED
    assert "revoked" in error.details()


async def test_renewal_of_renewal_retires_original(api, hub_server):
    """Renewing with B counts as using B, so A cannot start a second line."""
    hub = hub_server.hub
    client = await add_client(api)
    key_a, cert_a, _ = await enroll(api, client)
    key_b, cert_b = await renew(hub, key_a, cert_a)
    key_d, cert_d = await renew(hub, key_b, cert_b)
    a, b, d = serial_of(cert_a), serial_of(cert_b), serial_of(cert_d)
    assert a in hub.revoked
    assert (await renew_error(hub, key_a, cert_a)).code() == Code.PERMISSION_DENIED
    states = await certificate_states(api, client)
    assert states == {a: f"replaced by renewed certificate {b}", b: "valid", d: "valid"}

    agent = RawAgent(hub, key_d, cert_d)
    assert (await agent.register()).certificate_serial == d
    await agent.close()
    states = await certificate_states(api, client)
    assert states[b] == f"replaced by renewed certificate {d}"
    assert states[d] == "valid"


async def test_store_checks_revocation_in_transaction(hub_server):
    """Both store steps check revocation inside their own transaction."""
    store = hub_server.hub.store
    now = time.time()
    await store.record_certificate("a1", "uid-1", "default", now + 3600, now)
    first = await store.record_renewal("b1", now + 3600, now, "a1", "r", "s")
    assert first == []
    second = await store.record_renewal("c1", now + 3600, now, "a1", "r", "s")
    assert second == [("b1", "s")]
    # B was superseded after a caller could have checked it.
    assert await store.mark_certificate_used("b1", now, "used") is None
    assert await store.record_renewal("d1", now + 3600, now, "b1", "r", "s") is None
    assert await store.get_certificate("d1") is None
    assert (await store.get_certificate("b1")).first_used_at is None
    assert await store.record_renewal("e1", now + 3600, now, "nope", "r", "s") is None
    assert await store.mark_certificate_used("c1", now, "used") == ["a1"]
    assert await store.mark_certificate_used("c1", now, "used") == []
    assert (await store.get_certificate("c1")).revoked_at is None


# Start-up checks of the CA settings.
def write_ca(directory, *, is_ca=True):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "operator CA")])
    now = NOW(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / ("ca.crt" if is_ca else "leaf.crt")
    key_path = directory / ("ca.key" if is_ca else "leaf.key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(pem_key(key))
    return cert_path, key_path


def tls_error(tmp_path, **tls) -> str:
    path = write_config(tmp_path / "config.json", server={"tls": tls})
    with pytest.raises(ConfigError) as info:
        load_config(env={"CONFIG_PATH": str(path)})
    return str(info.value)


def test_client_auth_without_tls_fails_start(tmp_path):
    message = tls_error(tmp_path, enabled=False)
    assert "server.tls.enabled" in message
    assert "client_auth" in message


def test_ca_file_without_key_fails_start(tmp_path):
    cert_path, key_path = write_ca(tmp_path)
    assert "server.tls.ca_key_file" in tls_error(tmp_path, ca_file=str(cert_path))
    assert "server.tls.ca_file" in tls_error(tmp_path, ca_key_file=str(key_path))


def test_unusable_ca_files_fail_start(tmp_path):
    cert_path, key_path = write_ca(tmp_path)
    leaf_path, leaf_key_path = write_ca(tmp_path, is_ca=False)
    other_key = tmp_path / "other.key"
    other_key.write_bytes(pem_key(ec.generate_private_key(ec.SECP256R1())))
    cases = [
        (str(tmp_path / "missing.crt"), str(key_path), "server.tls.ca_file", "read"),
        (str(key_path), str(key_path), "server.tls.ca_file", "not a PEM"),
        (str(leaf_path), str(leaf_key_path), "server.tls.ca_file", "not a CA"),
        (str(cert_path), str(tmp_path / "none.key"), "server.tls.ca_key_file", "read"),
        (str(cert_path), str(other_key), "server.tls.ca_key_file", "not the key"),
    ]
    for ca_file, ca_key_file, key_name, fragment in cases:
        message = tls_error(tmp_path, ca_file=ca_file, ca_key_file=ca_key_file)
        assert key_name in message, message
        assert fragment in message, message


async def test_operator_ca_signs_agent_certificates(hub_factory, tmp_path):
    cert_path, key_path = write_ca(tmp_path)
    server = await hub_factory(
        server={"tls": {"ca_file": str(cert_path), "ca_key_file": str(key_path)}}
    )
    hub = server.hub
    assert hub.ca.ca_pem == cert_path.read_bytes()
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login()
        client = await add_client(api)
        key, cert, _ = await enroll(api, client)
        issued = x509.load_pem_x509_certificate(cert)
        assert issued.issuer == hub.ca.ca_cert.subject
        agent = RawAgent(hub, key, cert)
        ack = await agent.register()
        assert ack.unique_client_id == client.unique_client_id
        await agent.close()
