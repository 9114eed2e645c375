"""Faults with real processes: killed hub, killed agent, vanished network."""

import asyncio
import os
import signal
import time
from collections import Counter

import pytest

from ris.v1 import client_pb2, task_pb2
from tests.e2e.conftest import AgentProcess, HubProcess, wait_connected
from tests.e2e.test_end_to_end import wait_task
from tests.support import Api

TERMINAL = {
    task_pb2.TASK_STATUS_COMPLETED,
    task_pb2.TASK_STATUS_FAILED,
    task_pb2.TASK_STATUS_CANCELLED,
    task_pb2.TASK_STATUS_TIMEOUT,
}


def sleep_task(seconds: str) -> task_pb2.TaskSpec:
    return task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_COMMAND,
        command=task_pb2.CommandTask(command="sleep", args=[seconds]),
    )


@pytest.fixture
def started_agents():
    """Agents a test starts; each is stopped when the test ends."""
    agents: list[AgentProcess] = []
    yield agents
    for agent in agents:
        agent.stop(signal.SIGKILL)


async def add_enrolled_agent(
    api: Api, hub: HubProcess, root, started: list, *extra: str
):
    client = (
        await api.clients.AddClient(
            client_pb2.AddClientRequest(name="agent-1", host="localhost"),
            metadata=api.metadata,
        )
    ).client
    token = await api.clients.CreateEnrollmentToken(
        client_pb2.CreateEnrollmentTokenRequest(id=client.id), metadata=api.metadata
    )
    agent = AgentProcess(hub, root / "agent-1")
    started.append(agent)
    enrolled = agent.enroll(token.token)
    assert enrolled.returncode == 0, enrolled.stderr
    agent.start(*extra)
    await wait_connected(api, client.id)
    return client, agent


async def all_tasks(api: Api) -> list[task_pb2.Task]:
    listing = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(limit=1000), metadata=api.metadata
    )
    return list(listing.tasks)


async def test_hub_killed_with_200_tasks_in_flight(tmp_path, started_agents):
    hub = HubProcess(tmp_path, fixed_ports=True).start()
    agent = None
    try:
        async with hub.channel() as channel:
            api = Api(channel)
            await api.login()
            client, agent = await add_enrolled_agent(
                api, hub, tmp_path, started_agents, "--max-concurrent", "4"
            )
            request = task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id,
                task=sleep_task("0.05"),
                run_async=True,
            )
            submitted = []
            for _ in range(10):
                batch = await asyncio.gather(
                    *(
                        api.tasks.ExecuteTask(request, metadata=api.metadata)
                        for _ in range(20)
                    )
                )
                submitted.extend(response.task.task_id for response in batch)
            assert len(set(submitted)) == 200
            deadline = time.monotonic() + 30
            while len(agent.executions()) < 20:
                assert time.monotonic() < deadline, "the agent started no tasks"
                await asyncio.sleep(0.02)

        hub.stop(signal.SIGKILL)
        hub.start()

        async with hub.channel() as channel:
            api = Api(channel)
            await api.login()
            deadline = time.monotonic() + 90
            while True:
                tasks = await all_tasks(api)
                if all(task.status in TERMINAL for task in tasks):
                    break
                assert time.monotonic() < deadline, (
                    "tasks left unfinished after restart"
                )
                await asyncio.sleep(0.2)
        assert {task.task_id for task in tasks} == set(submitted)
        statuses = Counter(task_pb2.TaskStatus.Name(task.status) for task in tasks)
        assert statuses == {"TASK_STATUS_COMPLETED": 200}
        runs = Counter(entry["task_id"] for entry in agent.executions())
        assert set(runs) == set(submitted)
        assert max(runs.values()) == 1, "a task ran twice on the agent"
    finally:
        if agent is not None:
            agent.stop()
        hub.stop()


async def test_agent_killed_mid_task_finishes_once(
    hub_process, hub_api, tmp_path, started_agents
):
    client, agent = await add_enrolled_agent(
        hub_api, hub_process, tmp_path, started_agents
    )
    task = (
        await hub_api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id, task=sleep_task("2"), run_async=True
            ),
            metadata=hub_api.metadata,
        )
    ).task
    deadline = time.monotonic() + 20
    while not agent.executions():
        assert time.monotonic() < deadline, "the agent never started the task"
        await asyncio.sleep(0.05)
    agent.stop(signal.SIGKILL)
    agent.start()

    final = await wait_task(hub_api, task.task_id, timeout=60)
    assert final.status == task_pb2.TASK_STATUS_COMPLETED
    assert final.result.command_output.exit_code == 0
    starts = [e for e in agent.executions() if e["task_id"] == task.task_id]
    # The killed run left no result, so the restarted agent ran it again.
    assert len(starts) == 2
    listing = await hub_api.tasks.ListTasks(
        task_pb2.ListTasksRequest(), metadata=hub_api.metadata
    )
    assert [t.task_id for t in listing.tasks] == [task.task_id]


class PausableProxy:
    """A TCP relay that can stop moving bytes without closing any socket."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _pump(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass

    async def _relay(self, client_reader, client_writer) -> None:
        hub_reader, hub_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        await asyncio.gather(
            self._pump(client_reader, hub_writer), self._pump(hub_reader, client_writer)
        )

    async def close(self) -> None:
        self.flowing.set()
        if self.server is not None:
            self.server.close()


async def test_vanished_network_marks_client_disconnected(
    hub_process, hub_api, tmp_path, started_agents
):
    agent_port = int(hub_process.endpoints["agent"].rpartition(":")[2])
    proxy = PausableProxy(agent_port)
    proxy_port = await proxy.start()
    try:
        client, agent = await add_enrolled_agent(
            hub_api,
            hub_process,
            tmp_path,
            started_agents,
            "--hub-agent-endpoint",
            f"127.0.0.1:{proxy_port}",
        )
        proxy.flowing.clear()
        paused_at = time.monotonic()
        while True:
            record = (
                await hub_api.clients.GetClient(
                    client_pb2.GetClientRequest(id=client.id), metadata=hub_api.metadata
                )
            ).client
            if record.connection_status == client_pb2.CONNECTION_STATUS_DISCONNECTED:
                break
            assert time.monotonic() - paused_at < 15, "silent agent never dropped"
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - paused_at
        # The test config sets connection_timeout to 4 s.
        assert 3.0 <= elapsed <= 6.0
    finally:
        await proxy.close()


async def test_cancel_kills_command_children(
    hub_process, hub_api, tmp_path, started_agents
):
    client, _ = await add_enrolled_agent(hub_api, hub_process, tmp_path, started_agents)
    pid_file = tmp_path / "child.pid"
    spec = task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_COMMAND,
        command=task_pb2.CommandTask(
            command="sh", args=["-c", f"sleep 60 & echo $! > {pid_file}; sleep 60"]
        ),
    )
    task = (
        await hub_api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id, task=spec, run_async=True
            ),
            metadata=hub_api.metadata,
        )
    ).task
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "command never started"
        await asyncio.sleep(0.05)
    child = int(pid_file.read_text())
    await hub_api.tasks.CancelTask(
        task_pb2.CancelTaskRequest(task_id=task.task_id, reason="test"),
        metadata=hub_api.metadata,
    )
    final = await wait_task(hub_api, task.task_id, timeout=20)
    assert final.status == task_pb2.TASK_STATUS_CANCELLED
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, f"child {child} survived the cancel"
        await asyncio.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped by its parent (sh is gone, so init
    # reaps it), and /proc shows the difference.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_result_in_outbox_survives_agent_kill(
    hub_process, hub_api, tmp_path, started_agents
):
    client, agent = await add_enrolled_agent(
        hub_api, hub_process, tmp_path, started_agents
    )
    task = (
        await hub_api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id,
                task=sleep_task("0.5"),
                run_async=True,
            ),
            metadata=hub_api.metadata,
        )
    ).task
    deadline = time.monotonic() + 20
    while not agent.executions():
        assert time.monotonic() < deadline, "the agent never started the task"
        await asyncio.sleep(0.05)

    # Freeze the hub so the result waits in the agent's outbox, unacknowledged.
    hub_process.process.send_signal(signal.SIGSTOP)
    try:
        outbox = agent.data_dir / "outbox"
        deadline = time.monotonic() + 20
        while not (outbox.exists() and any(outbox.iterdir())):
            assert time.monotonic() < deadline, "no result reached the outbox"
            await asyncio.sleep(0.05)
        agent.stop(signal.SIGKILL)
    finally:
        hub_process.process.send_signal(signal.SIGCONT)
    agent.start()

    final = await wait_task(hub_api, task.task_id, timeout=60)
    assert final.status == task_pb2.TASK_STATUS_COMPLETED
    assert final.attempt == 1
    starts = [e for e in agent.executions() if e["task_id"] == task.task_id]
    assert len(starts) == 1, "the task ran again instead of coming from the outbox"
    deadline = time.monotonic() + 20
    while any((agent.data_dir / "outbox").iterdir()):
        assert time.monotonic() < deadline, "the outbox was never acknowledged"
        await asyncio.sleep(0.1)
