"""The main job end to end: real hub, real agent, real HTTP server, restart."""

import asyncio
import json
import sys
import time

from ris.v1 import task_pb2
from tests.support import ADMIN_PASSWORD, Api


async def wait_task(api: Api, task_id: str, timeout: float = 30.0) -> task_pb2.Task:
    terminal = {
        task_pb2.TASK_STATUS_COMPLETED,
        task_pb2.TASK_STATUS_FAILED,
        task_pb2.TASK_STATUS_CANCELLED,
        task_pb2.TASK_STATUS_TIMEOUT,
    }
    deadline = time.monotonic() + timeout
    while True:
        task = (
            await api.tasks.GetTask(
                task_pb2.GetTaskRequest(task_id=task_id), metadata=api.metadata
            )
        ).task
        if task.status in terminal or time.monotonic() > deadline:
            return task
        await asyncio.sleep(0.05)


async def wait_rest_task(rest, headers, task_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = await rest.get(f"/platform/v1/task/{task_id}", headers=headers)
        data = response.json()["data"]
        if data["status"] not in ("pending", "queued", "running"):
            return data
        if time.monotonic() > deadline:
            return data
        await asyncio.sleep(0.05)


async def rest_login(rest) -> dict:
    response = await rest.post(
        "/auth/login",
        json={
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "tenant_code": "default",
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


def python_command(code: str) -> task_pb2.TaskSpec:
    return task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_COMMAND,
        command=task_pb2.CommandTask(command=sys.executable, args=["-c", code]),
    )


async def test_tasks_over_grpc_and_rest_survive_restart(
    hub_process, hub_api, agent_factory, echo_server
):
    client, agent = await agent_factory()
    uid = client.unique_client_id

    # gRPC, synchronous HTTP request.
    grpc_http = (
        await hub_api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=uid,
                timeout=20,
                task=task_pb2.TaskSpec(
                    type=task_pb2.TASK_TYPE_HTTP_REQUEST,
                    http_request=task_pb2.HttpRequestTask(
                        method="POST",
                        url=f"{echo_server}/grpc",
                        headers={"X-Test": "grpc"},
                        body="ping",
                    ),
                ),
            ),
            metadata=hub_api.metadata,
        )
    ).task
    assert grpc_http.status == task_pb2.TASK_STATUS_COMPLETED
    assert grpc_http.result.http_response.status_code == 200
    echoed = json.loads(grpc_http.result.http_response.body)
    assert echoed["method"] == "POST"
    assert echoed["body"] == "ping"
    assert echoed["headers"]["X-Test"] == "grpc"
    assert grpc_http.result.http_response.headers["x-echo"] == "yes"
    assert grpc_http.result.execution_time >= 0
    assert grpc_http.attempt == 1

    # gRPC, asynchronous command.
    queued = (
        await hub_api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=uid,
                run_async=True,
                task=python_command("print('hello from command')"),
            ),
            metadata=hub_api.metadata,
        )
    ).task
    assert queued.status in (task_pb2.TASK_STATUS_QUEUED, task_pb2.TASK_STATUS_RUNNING)
    grpc_command = await wait_task(hub_api, queued.task_id)
    assert grpc_command.status == task_pb2.TASK_STATUS_COMPLETED
    assert grpc_command.result.command_output.stdout == "hello from command\n"
    assert grpc_command.result.command_output.exit_code == 0

    async with hub_process.rest() as rest:
        headers = await rest_login(rest)

        # REST, synchronous HTTP request, in the documented request shape.
        response = await rest.post(
            "/platform/v1/task/execute",
            headers=headers,
            json={
                "client_id": uid,
                "task": {
                    "type": "http_request",
                    "method": "GET",
                    "url": f"{echo_server}/rest",
                    "headers": {"X-From": "rest"},
                },
                "timeout": 20,
                "priority": "normal",
                "async": False,
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True
        data = body["data"]
        assert data["status"] == "completed"
        assert data["result"]["status_code"] == 200
        assert json.loads(data["result"]["body"])["headers"]["X-From"] == "rest"
        assert isinstance(data["result"]["execution_time"], int)
        assert data["started_at"].endswith("Z")
        assert data["completed_at"].endswith("Z")
        rest_http_id = data["task_id"]

        # REST, asynchronous command with a numeric priority.
        response = await rest.post(
            "/platform/v1/task/execute",
            headers=headers,
            json={
                "client_id": uid,
                "task": {
                    "type": "command",
                    "command": sys.executable,
                    "args": ["-c", "import sys; sys.stdout.write('rest-cmd')"],
                },
                "priority": 4,
                "async": True,
            },
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["status"] in ("queued", "running")
        assert data["priority"] == "high"
        rest_command = await wait_rest_task(rest, headers, data["task_id"])
        assert rest_command["status"] == "completed"
        assert rest_command["result"]["stdout"] == "rest-cmd"
        assert rest_command["result"]["exit_code"] == 0

    # Every task ran exactly once on the agent.
    executions = agent.executions()
    task_ids = [
        grpc_http.task_id,
        queued.task_id,
        rest_http_id,
        rest_command["task_id"],
    ]
    assert sorted(e["task_id"] for e in executions) == sorted(task_ids)

    # Results read back from a restarted hub.
    hub_process.stop()
    hub_process.start()
    async with hub_process.channel() as channel:
        api = Api(channel)
        await api.login()
        for task_id in task_ids:
            task = await wait_task(api, task_id, timeout=0)
            assert task.status == task_pb2.TASK_STATUS_COMPLETED
        reread = await wait_task(api, grpc_http.task_id, timeout=0)
        assert reread.result.http_response.body == grpc_http.result.http_response.body
    async with hub_process.rest() as rest:
        headers = await rest_login(rest)
        response = await rest.get(
            f"/platform/v1/task/{rest_command['task_id']}", headers=headers
        )
        assert response.json()["data"]["result"]["stdout"] == "rest-cmd"


async def test_failed_command_reports_exit_code(hub_api, agent_factory):
    client, _ = await agent_factory()
    task = (
        await hub_api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id,
                timeout=20,
                task=python_command(
                    "import sys; sys.stderr.write('boom'); sys.exit(3)"
                ),
            ),
            metadata=hub_api.metadata,
        )
    ).task
    assert task.status == task_pb2.TASK_STATUS_FAILED
    assert task.result.command_output.exit_code == 3
    assert task.result.command_output.stderr == "boom"


async def test_task_for_unsupported_type_is_rejected(hub_api, agent_factory):
    import grpc
    import pytest

    from ris.v1 import client_pb2

    client, _ = await agent_factory()
    registered = await hub_api.clients.GetClient(
        client_pb2.GetClientRequest(id=client.id), metadata=hub_api.metadata
    )
    if "docker_service" in registered.client.capabilities:
        pytest.skip("this machine runs Docker, so the agent supports the task")
    spec = task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_DOCKER_SERVICE,
        docker_service=task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_STATUS, service_name="web"
        ),
    )
    try:
        await hub_api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(client_id=client.unique_client_id, task=spec),
            metadata=hub_api.metadata,
        )
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "docker_service" in error.details()
    else:
        raise AssertionError(
            "a docker_service task was accepted by a client without Docker"
        )


async def test_refused_connection_retried_then_dead_lettered(hub_api, agent_factory):
    import socket

    client, agent = await agent_factory()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    task = (
        await hub_api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id,
                run_async=True,
                max_attempts=2,
                task=task_pb2.TaskSpec(
                    type=task_pb2.TASK_TYPE_HTTP_REQUEST,
                    http_request=task_pb2.HttpRequestTask(
                        url=f"http://127.0.0.1:{closed_port}/"
                    ),
                ),
            ),
            metadata=hub_api.metadata,
        )
    ).task
    deadline = time.monotonic() + 30
    while not (
        final := await wait_task(hub_api, task.task_id, timeout=0)
    ).dead_lettered:
        assert time.monotonic() < deadline, "refused request never dead-lettered"
        await asyncio.sleep(0.1)
    assert final.status == task_pb2.TASK_STATUS_FAILED
    assert final.attempt == 2
    assert final.result.retryable
    attempts = [
        e["attempt"] for e in agent.executions() if e["task_id"] == task.task_id
    ]
    assert attempts == [1, 2]
