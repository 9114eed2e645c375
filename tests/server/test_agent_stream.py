"""Enrollment and the agent stream, driven by a raw protocol client."""

import asyncio
import time

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ris.v1 import agent_pb2, agent_pb2_grpc, client_pb2, system_pb2, task_pb2
from ris_server.models import EnrollmentToken
from ris_server.services.agents import _peer_address
from ris_server.services.clients import hash_token
from tests.server.test_api import add_client, http_spec, rpc_error
from tests.support import Api, csr_for, make_ca, make_client_cert, pem_key

Code = grpc.StatusCode


async def enroll(api, client) -> tuple[bytes, bytes, agent_pb2.EnrollResponse]:
    token = await api.clients.CreateEnrollmentToken(
        client_pb2.CreateEnrollmentTokenRequest(id=client.id), metadata=api.metadata
    )
    key = ec.generate_private_key(ec.SECP256R1())
    response = await api.agents.Enroll(
        agent_pb2.EnrollRequest(token=token.token, csr_pem=csr_for(key), hostname="h1")
    )
    return pem_key(key), response.certificate_pem.encode(), response


class RawAgent:
    """A scripted agent speaking the stream protocol directly."""

    def __init__(
        self, hub, key: bytes, cert: bytes, port: int | None = None, options=()
    ) -> None:
        credentials = grpc.ssl_channel_credentials(hub.ca.ca_pem, key, cert)
        port = port or hub.endpoints.agent_port
        self.channel = grpc.aio.secure_channel(
            f"127.0.0.1:{port}", credentials, options=options
        )
        self.call = agent_pb2_grpc.AgentServiceStub(self.channel).Connect()
        self._write_lock = asyncio.Lock()

    async def write(self, message: agent_pb2.ConnectRequest) -> None:
        """Send one message; a gRPC call takes one write at a time."""
        async with self._write_lock:
            await self.call.write(message)

    async def register(self, running=(), slots=2) -> agent_pb2.RegistrationAck:
        await self.call.write(
            agent_pb2.ConnectRequest(
                registration=agent_pb2.Registration(
                    hostname="h1",
                    version="test",
                    capabilities=["http_request"],
                    max_concurrent_tasks=slots,
                    running=running,
                )
            )
        )
        return (await self.receive()).registration_ack

    def start_heartbeats(self, interval: float = 0.5) -> None:
        """Keep the stream alive past the hub's connection timeout."""

        async def beat() -> None:
            sequence = 0
            while True:
                sequence += 1
                await self.write(
                    agent_pb2.ConnectRequest(
                        heartbeat=agent_pb2.Heartbeat(sequence=sequence)
                    )
                )
                await asyncio.sleep(interval)

        self._heartbeats = asyncio.create_task(beat())

    async def receive(self, timeout=5.0) -> agent_pb2.ConnectResponse:
        return await asyncio.wait_for(self.call.read(), timeout)

    async def send_result(self, task_id, attempt, status, body="OK"):
        await self.write(
            agent_pb2.ConnectRequest(
                result=agent_pb2.ResultReport(
                    task_id=task_id,
                    attempt=attempt,
                    status=status,
                    result=task_pb2.TaskResult(
                        http_response=task_pb2.HttpResponse(status_code=200, body=body),
                        execution_time=12,
                    ),
                )
            )
        )

    async def close(self):
        heartbeats = getattr(self, "_heartbeats", None)
        if heartbeats is not None:
            heartbeats.cancel()
        await self.channel.close()


async def wait_status(api, task_id, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        task = (
            await api.tasks.GetTask(
                task_pb2.GetTaskRequest(task_id=task_id), metadata=api.metadata
            )
        ).task
        if task.status == status or time.monotonic() > deadline:
            return task
        await asyncio.sleep(0.05)


async def test_enrollment_token_works_once(api):
    client = await add_client(api)
    token = await api.clients.CreateEnrollmentToken(
        client_pb2.CreateEnrollmentTokenRequest(id=client.id), metadata=api.metadata
    )
    assert token.unique_client_id == client.unique_client_id
    assert token.ca_certificate_pem.startswith("-----BEGIN CERTIFICATE-----")
    key = ec.generate_private_key(ec.SECP256R1())
    request = agent_pb2.EnrollRequest(token=token.token, csr_pem=csr_for(key))
    first = await api.agents.Enroll(request)
    assert first.unique_client_id == client.unique_client_id
    assert first.tenant_code == "default"
    second = await rpc_error(api.agents.Enroll(request))
    assert second.code() == Code.UNAUTHENTICATED


async def test_expired_enrollment_token_rejected(api, hub_server):
    client = await add_client(api)
    await hub_server.hub.store.save_enrollment_token(
        EnrollmentToken(
            hash_token("expired-token"),
            client.unique_client_id,
            "default",
            time.time() - 1,
        )
    )
    key = ec.generate_private_key(ec.SECP256R1())
    error = await rpc_error(
        api.agents.Enroll(
            agent_pb2.EnrollRequest(token="expired-token", csr_pem=csr_for(key))
        )
    )
    assert error.code() == Code.UNAUTHENTICATED


async def test_enroll_rejects_bad_csr_and_ttl(api):
    client = await add_client(api)
    token = await api.clients.CreateEnrollmentToken(
        client_pb2.CreateEnrollmentTokenRequest(id=client.id), metadata=api.metadata
    )
    error = await rpc_error(
        api.agents.Enroll(agent_pb2.EnrollRequest(token=token.token, csr_pem="junk"))
    )
    assert error.code() == Code.INVALID_ARGUMENT
    ttl = await rpc_error(
        api.clients.CreateEnrollmentToken(
            client_pb2.CreateEnrollmentTokenRequest(id=client.id, ttl_seconds=5),
            metadata=api.metadata,
        )
    )
    assert ttl.code() == Code.INVALID_ARGUMENT


async def test_agent_runs_task_over_stream(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert)
    ack = await agent.register()
    assert ack.unique_client_id == client.unique_client_id
    assert ack.heartbeat_interval == 1

    await agent.call.write(
        agent_pb2.ConnectRequest(heartbeat=agent_pb2.Heartbeat(sequence=7))
    )
    assert (await agent.receive()).heartbeat_ack.sequence == 7

    submitted = await api.tasks.ExecuteTask(
        task_pb2.ExecuteTaskRequest(
            client_id=client.unique_client_id, task=http_spec(), run_async=True
        ),
        metadata=api.metadata,
    )
    assignment = (await agent.receive()).assignment
    assert assignment.task_id == submitted.task.task_id
    assert assignment.attempt == 1
    assert assignment.spec.http_request.url == "http://127.0.0.1:9/x"

    await agent.send_result(assignment.task_id, 1, task_pb2.TASK_STATUS_COMPLETED)
    assert (await agent.receive()).result_ack.task_id == assignment.task_id
    task = await wait_status(api, assignment.task_id, task_pb2.TASK_STATUS_COMPLETED)
    assert task.status == task_pb2.TASK_STATUS_COMPLETED
    assert task.result.http_response.body == "OK"
    assert task.result.execution_time == 12

    # A duplicate of the same result is acknowledged but changes nothing.
    await agent.send_result(assignment.task_id, 1, task_pb2.TASK_STATUS_FAILED, "late")
    assert (await agent.receive()).result_ack.attempt == 1
    again = await wait_status(api, assignment.task_id, task_pb2.TASK_STATUS_COMPLETED)
    assert again.result.http_response.body == "OK"

    listing = await api.clients.GetClient(
        client_pb2.GetClientRequest(id=client.id), metadata=api.metadata
    )
    assert listing.client.connection_status == client_pb2.CONNECTION_STATUS_CONNECTED
    assert listing.client.capabilities == ["http_request"]
    assert listing.client.ip_address == "127.0.0.1"
    health = await api.system.GetHealth(system_pb2.GetHealthRequest())
    assert health.components.clients.connected == 1
    assert health.components.clients.last_heartbeat.seconds >= int(time.time()) - 60
    await agent.close()


async def test_sync_execute_waits_for_result(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert)
    await agent.register()

    async def answer():
        assignment = (await agent.receive()).assignment
        await agent.send_result(assignment.task_id, assignment.attempt, 4)

    answering = asyncio.create_task(answer())
    response = await api.tasks.ExecuteTask(
        task_pb2.ExecuteTaskRequest(
            client_id=client.unique_client_id, task=http_spec()
        ),
        metadata=api.metadata,
    )
    await answering
    assert response.task.status == task_pb2.TASK_STATUS_COMPLETED
    assert response.task.HasField("completed_at")
    await agent.close()


async def test_running_task_resent_after_reconnect(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert)
    await agent.register()
    await api.tasks.ExecuteTask(
        task_pb2.ExecuteTaskRequest(
            client_id=client.unique_client_id, task=http_spec(), run_async=True
        ),
        metadata=api.metadata,
    )
    first = (await agent.receive()).assignment
    await agent.close()

    agent = RawAgent(hub_server.hub, key, cert)
    await agent.register()
    resent = (await agent.receive()).assignment
    assert (resent.task_id, resent.attempt) == (first.task_id, first.attempt)
    await agent.close()


async def test_missing_heartbeats_mark_client_disconnected(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert)
    await agent.register()
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await agent.receive(timeout=10)
    assert info.value.code() == Code.DEADLINE_EXCEEDED, info.value.details()
    assert "heartbeat" in info.value.details()
    elapsed = time.monotonic() - started
    timeout = hub_server.config.client_management.connection_timeout
    assert timeout - 0.5 <= elapsed <= timeout + 3
    fetched = await api.clients.GetClient(
        client_pb2.GetClientRequest(id=client.id), metadata=api.metadata
    )
    assert fetched.client.connection_status == client_pb2.CONNECTION_STATUS_DISCONNECTED
    await agent.close()


async def test_agent_without_certificate_cannot_connect(hub_server):
    hub = hub_server.hub
    credentials = grpc.ssl_channel_credentials(hub.ca.ca_pem)
    async with grpc.aio.secure_channel(hub.endpoints.agent, credentials) as channel:
        call = agent_pb2_grpc.AgentServiceStub(channel).Connect()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call.write(agent_pb2.ConnectRequest())
            await asyncio.wait_for(call.read(), 5)
        assert info.value.code() == Code.UNAVAILABLE, info.value.details()


async def test_agent_with_other_ca_certificate_cannot_connect(api, hub_server):
    client = await add_client(api)
    ca_key, ca_cert = make_ca()
    key, cert = make_client_cert(
        ca_key, ca_cert, f"urn:ris:tenant:default:client:{client.unique_client_id}"
    )
    agent = RawAgent(hub_server.hub, key, cert)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await agent.register()
    assert info.value.code() == Code.UNAVAILABLE, info.value.details()
    await agent.close()


async def test_agent_on_api_port_is_unauthenticated(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert, port=hub_server.hub.endpoints.grpc_port)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await agent.register()
    assert info.value.code() == Code.UNAUTHENTICATED, info.value.details()
    await agent.close()


async def test_deleted_client_cannot_connect(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    await api.clients.DeleteClient(
        client_pb2.DeleteClientRequest(id=client.id), metadata=api.metadata
    )
    agent = RawAgent(hub_server.hub, key, cert)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await agent.register()
    assert info.value.code() == Code.PERMISSION_DENIED, info.value.details()
    await agent.close()


async def test_first_message_must_be_registration(api, hub_server):
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert)
    await agent.call.write(
        agent_pb2.ConnectRequest(heartbeat=agent_pb2.Heartbeat(sequence=1))
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await agent.receive()
    assert info.value.code() == Code.INVALID_ARGUMENT, info.value.details()
    await agent.close()


def test_peer_address_parses_grpc_peer_strings():
    assert _peer_address("ipv4:10.1.2.3:5678") == "10.1.2.3"
    assert _peer_address("ipv6:%5B::1%5D:5678") == "::1"
    assert _peer_address("unix:/tmp/socket") == ""


def keepalive_options(interval_ms: int):
    return [
        ("grpc.keepalive_time_ms", interval_ms),
        ("grpc.keepalive_timeout_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


@pytest.fixture
async def idle_hub(hub_factory):
    """A hub that lets a stream sit silent for 30 s, so only pings cross it."""
    server = await hub_factory(
        client_management={"heartbeat_interval": "10s", "connection_timeout": "30s"}
    )
    credentials = grpc.ssl_channel_credentials(server.hub.ca.ca_pem)
    async with grpc.aio.secure_channel(server.hub.endpoints.grpc, credentials) as ch:
        api = Api(ch)
        await api.login()
        yield server, api


async def test_keepalive_pings_within_policy_keep_stream(idle_hub):
    server, api = idle_hub
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(server.hub, key, cert, options=keepalive_options(6000))
    first = await agent.register()
    await asyncio.sleep(13)  # two keepalive pings on an idle stream
    fetched = await api.clients.GetClient(
        client_pb2.GetClientRequest(id=client.id), metadata=api.metadata
    )
    assert fetched.client.connection_status == client_pb2.CONNECTION_STATUS_CONNECTED
    session = server.hub.dispatcher.session(client.unique_client_id)
    assert session is not None
    assert session.session_id == first.session_id
    await agent.close()


async def test_keepalive_pings_too_fast_get_goaway(idle_hub):
    server, api = idle_hub
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(server.hub, key, cert, options=keepalive_options(500))
    await agent.register()
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await agent.receive(timeout=20)
    assert info.value.code() == Code.UNAVAILABLE
    assert time.monotonic() - started < 10
    await agent.close()
