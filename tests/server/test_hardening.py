"""Inputs and conditions found by breaking a running hub on purpose."""

import base64
import io
import logging
import os
import stat

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ris.v1 import agent_pb2, client_pb2, task_pb2, tenant_pb2
from ris_server.app import HubServer
from ris_server.logs import TextFormatter
from tests.server.test_api import add_client, http_spec, rpc_error
from tests.support import csr_for

Code = grpc.StatusCode


@pytest.mark.parametrize(
    "method", ["/ris.v1.AuthService/Login", "/ris.v1.ClientService/ListClients"]
)
async def test_corrupt_request_is_invalid_argument(api, method):
    call = api.channel.unary_unary(method)
    error = await rpc_error(call(b"\xff\xff\xff\xff", metadata=api.metadata))
    assert error.code() == Code.INVALID_ARGUMENT
    assert "not a valid message" in error.details()


@pytest.mark.parametrize("value", ["seq:99999999999999999999999999", "seq:-4", "id:3"])
async def test_out_of_range_page_token_is_invalid(api, value):
    token = base64.urlsafe_b64encode(value.encode()).decode()
    for call in (
        api.tasks.ListTasks(
            task_pb2.ListTasksRequest(page_token=token), metadata=api.metadata
        ),
        api.tasks.ListDeadLetters(
            task_pb2.ListDeadLettersRequest(page_token=token), metadata=api.metadata
        ),
    ):
        error = await rpc_error(call)
        assert error.code() == Code.INVALID_ARGUMENT


async def test_rejected_csr_keeps_token_usable(api):
    client = await add_client(api)
    token = await api.clients.CreateEnrollmentToken(
        client_pb2.CreateEnrollmentTokenRequest(id=client.id), metadata=api.metadata
    )
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    error = await rpc_error(
        api.agents.Enroll(
            agent_pb2.EnrollRequest(token=token.token, csr_pem=csr_for(weak))
        )
    )
    assert error.code() == Code.INVALID_ARGUMENT
    assert "2048" in error.details()
    good = ec.generate_private_key(ec.SECP256R1())
    enrolled = await api.agents.Enroll(
        agent_pb2.EnrollRequest(token=token.token, csr_pem=csr_for(good))
    )
    assert enrolled.unique_client_id == client.unique_client_id


async def test_superadmin_manages_client_of_other_tenant(api):
    await api.tenants.CreateTenant(
        tenant_pb2.CreateTenantRequest(code="t2", name="Two"), metadata=api.metadata
    )
    client = await add_client(api, "x1", tenant_code="t2")
    assert client.tenant_code == "t2"
    hidden = await rpc_error(
        api.clients.GetClient(
            client_pb2.GetClientRequest(id=client.id), metadata=api.metadata
        )
    )
    assert hidden.code() == Code.NOT_FOUND
    fetched = await api.clients.GetClient(
        client_pb2.GetClientRequest(id=client.id, tenant_code="t2"),
        metadata=api.metadata,
    )
    assert fetched.client.name == "x1"
    updated = await api.clients.UpdateClient(
        client_pb2.UpdateClientRequest(id=client.id, tenant_code="t2", description="d"),
        metadata=api.metadata,
    )
    assert updated.client.description == "d"
    token = await api.clients.CreateEnrollmentToken(
        client_pb2.CreateEnrollmentTokenRequest(id=client.id, tenant_code="t2"),
        metadata=api.metadata,
    )
    assert token.unique_client_id == client.unique_client_id
    await api.clients.DeleteClient(
        client_pb2.DeleteClientRequest(id=client.id, tenant_code="t2"),
        metadata=api.metadata,
    )


async def test_deleting_client_cancels_its_tasks(api):
    client = await add_client(api)
    task = (
        await api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id, task=http_spec(), run_async=True
            ),
            metadata=api.metadata,
        )
    ).task
    await api.clients.DeleteClient(
        client_pb2.DeleteClientRequest(id=client.id), metadata=api.metadata
    )
    after = (
        await api.tasks.GetTask(
            task_pb2.GetTaskRequest(task_id=task.task_id), metadata=api.metadata
        )
    ).task
    assert after.status == task_pb2.TASK_STATUS_CANCELLED
    assert after.result.error == "the client was deleted"


async def test_second_hub_cannot_take_bound_ports(hub_server, tmp_path):
    config = hub_server.config.model_copy(deep=True)
    config.server.data_dir = str(tmp_path / "second")
    config.server.grpc_port = hub_server.hub.endpoints.grpc_port
    second = HubServer(config)
    with pytest.raises(RuntimeError):
        await second.start()
    await second.stop(grace=0)


def test_database_file_is_private(hub_server):
    mode = stat.S_IMODE(os.stat(hub_server.config.data_dir / "ris.db").st_mode)
    assert mode == 0o600


def test_text_log_escapes_control_characters():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.escape")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("tenant %s", "de\nfault FORGED\x00\u2028")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "WARNING tenant de\\nfault FORGED\\x00\\u2028\n"


async def test_credentials_redacted_in_headers_env_and_url(api):
    client = await add_client(api)
    http = http_spec("http://user:hunter2@127.0.0.1:9/x")
    http.http_request.headers["X-Api-Key"] = "SEKRIT-K"
    http.http_request.headers["X-Trace"] = "visible"
    command = task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_COMMAND,
        command=task_pb2.CommandTask(
            command="env", environment={"DB_PASSWORD": "pw-1", "MODE": "fast"}
        ),
    )
    for spec in (http, command):
        task = (
            await api.tasks.ExecuteTask(
                task_pb2.ExecuteTaskRequest(
                    client_id=client.unique_client_id, task=spec, run_async=True
                ),
                metadata=api.metadata,
            )
        ).task
        text = str(task.payload)
        for secret in ("hunter2", "SEKRIT-K", "pw-1"):
            assert secret not in text
    assert "visible" in str(http)
    listing = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(), metadata=api.metadata
    )
    shown = str(listing)
    assert "user:[REDACTED]@127.0.0.1:9" in shown
    assert "fast" in shown


async def test_oversized_result_is_capped_and_lists_stay_readable(api, hub_server):
    from tests.server.test_agent_stream import RawAgent, enroll

    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert)
    await agent.register(slots=2)
    ids = []
    for _ in range(2):
        submitted = await api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id, task=http_spec(), run_async=True
            ),
            metadata=api.metadata,
        )
        ids.append(submitted.task.task_id)
    assignments = [(await agent.receive()).assignment for _ in range(2)]
    assert {a.task_id for a in assignments} == set(ids)
    for assignment in assignments:
        await agent.send_result(
            assignment.task_id, 1, task_pb2.TASK_STATUS_COMPLETED, "x" * 7_000_000
        )
        assert (await agent.receive()).result_ack.task_id == assignment.task_id

    task = (
        await api.tasks.GetTask(
            task_pb2.GetTaskRequest(task_id=ids[0]), metadata=api.metadata
        )
    ).task
    assert task.result.http_response.body_truncated
    assert task.ByteSize() < 4 * 1024 * 1024
    first = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(), metadata=api.metadata
    )
    assert len(first.tasks) == 1
    assert first.next_page_token
    second = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(page_token=first.next_page_token),
        metadata=api.metadata,
    )
    assert {first.tasks[0].task_id, second.tasks[0].task_id} == set(ids)
    await agent.close()


@pytest.mark.parametrize(
    "text", ["bell\x07", "nul\x00", "rtl\u202eoverride", "esc\x1b[31m"]
)
async def test_control_characters_rejected_in_text(api, text):
    error = await rpc_error(add_client(api, "c1", description=text))
    assert error.code() == Code.INVALID_ARGUMENT
    assert "control characters" in error.details()
    tenant = await rpc_error(
        api.tenants.CreateTenant(
            tenant_pb2.CreateTenantRequest(code="t9", name=text), metadata=api.metadata
        )
    )
    assert tenant.code() == Code.INVALID_ARGUMENT


async def test_unknown_connection_status_filter_rejected(api):
    error = await rpc_error(
        api.clients.ListClients(
            client_pb2.ListClientsRequest(connection_status=77), metadata=api.metadata
        )
    )
    assert error.code() == Code.INVALID_ARGUMENT


async def test_agent_reported_values_are_sanitized(api, hub_server):
    from tests.server.test_agent_stream import RawAgent, enroll

    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(hub_server.hub, key, cert)
    await agent.write(
        agent_pb2.ConnectRequest(
            registration=agent_pb2.Registration(
                version="1.0\x1b[31m\nforged", capabilities=["http_request"]
            )
        )
    )
    await agent.receive()
    await agent.write(
        agent_pb2.ConnectRequest(
            heartbeat=agent_pb2.Heartbeat(
                sequence=1,
                resource_usage={"cpu": float("nan"), "memory": -5, "disk": 250},
            )
        )
    )
    await agent.receive()
    fetched = (
        await api.clients.GetClient(
            client_pb2.GetClientRequest(id=client.id), metadata=api.metadata
        )
    ).client
    assert fetched.version == "1.0[31mforged"
    usage = fetched.resource_usage
    assert (usage.cpu, usage.memory, usage.disk) == (0.0, 0.0, 100.0)
    await agent.close()
