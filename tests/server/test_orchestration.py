"""Task delivery under failure: retries, leases, lost agents, aging, limits."""

import asyncio
import json
import random
import time

import grpc
import pytest

from ris.v1 import agent_pb2, task_pb2
from ris_server.retry import RetryPolicy, aged_priority
from tests.server.conftest import connect_api
from tests.server.test_agent_stream import RawAgent, enroll
from tests.server.test_api import add_client, http_spec
from tests.support import Api

FAST = {
    "task_orchestration": {
        "watchdog_interval": "0.2s",
        "lease_grace": "0.5s",
        "lost_agent_grace": "1s",
        "retry_policy": {"initial_delay": "0.2s", "max_delay": "1s", "max_attempts": 3},
        # The wait limit lies past the aging bound (4 x 0.5 s) so that it never
        # ends a task that aging is about to lift.
        "queue": {"aging_interval": "0.5s", "max_wait": "4s"},
    }
}


def test_retry_delays_follow_exponential_policy():
    policy = RetryPolicy(initial_delay=1.0, max_delay=10.0)
    assert [policy.ceiling(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    rng = random.Random(7)
    for attempt in range(1, 8):
        delay = policy.delay(attempt, rng)
        assert policy.ceiling(attempt) / 2 <= delay <= policy.ceiling(attempt)
    assert RetryPolicy(2.0, 10.0, "fixed").ceiling(5) == 2.0
    assert RetryPolicy(1.0, 5.0).ceiling(10_000) == 5.0


def test_same_seed_gives_same_delays():
    policy = RetryPolicy(initial_delay=0.5, max_delay=30.0)
    first = [policy.delay(n, random.Random(3)) for n in range(1, 6)]
    second = [policy.delay(n, random.Random(3)) for n in range(1, 6)]
    assert first == second


def test_aged_priority_rises_one_level_per_interval():
    assert aged_priority(1, 0, 30) == 1
    assert aged_priority(1, 29.9, 30) == 1
    assert aged_priority(1, 30, 30) == 2
    assert aged_priority(1, 120, 30) == 5
    assert aged_priority(3, 10_000, 30) == 5
    assert aged_priority(2, 10_000, 0) == 2


@pytest.fixture
async def fast(hub_factory):
    server = await hub_factory(**FAST)
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login()
        yield server, api


async def next_of(agent: RawAgent, kind: str, timeout: float = 10.0):
    """Read messages until one of `kind`; return it with its arrival time."""
    deadline = time.monotonic() + timeout
    while True:
        message = await agent.receive(timeout=max(0.1, deadline - time.monotonic()))
        if message.WhichOneof("message") == kind:
            return getattr(message, kind), time.time()


async def connected_agent(server, api, name="client-1", slots=2, heartbeats=True):
    """Add a client, enroll it and open its stream; return both."""
    client = await add_client(api, name)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(server.hub, key, cert)
    await agent.register(slots=slots)
    if heartbeats:
        agent.start_heartbeats()
    return client, agent


async def submit(api, client, priority=3, timeout=30, spec=None):
    return (
        await api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id,
                task=spec or http_spec(),
                run_async=True,
                timeout=timeout,
                priority=priority,
            ),
            metadata=api.metadata,
        )
    ).task


async def get_task(api, task_id):
    return (
        await api.tasks.GetTask(
            task_pb2.GetTaskRequest(task_id=task_id), metadata=api.metadata
        )
    ).task


async def test_expired_lease_retries_with_backoff_then_dead_letters(fast):
    server, api = fast
    client, agent = await connected_agent(server, api)
    task = await submit(api, client, timeout=1)

    first, _ = await next_of(agent, "assignment")
    assert first.attempt == 1
    started = (await server.hub.store.get_task_any_tenant(task.task_id)).started_at
    cancel, _ = await next_of(agent, "cancellation")
    assert (cancel.task_id, cancel.attempt) == (task.task_id, 1)
    deadline = time.monotonic() + 5
    while not (
        stored := await server.hub.store.get_task_any_tenant(task.task_id)
    ).available_at:
        assert time.monotonic() < deadline, "expired task was not queued again"
        await asyncio.sleep(0.02)
    policy = RetryPolicy(0.2, 1.0)
    # The lease ends timeout + lease_grace after the attempt started, and the
    # watchdog (every 0.2 s) queues the task again at its next round. The
    # recorded available_at is that moment plus a delay from the policy.
    lease_end = started + 1 + 0.5
    wait = stored.available_at - lease_end
    assert policy.ceiling(1) / 2 <= wait <= policy.ceiling(1) + 1.5

    second, assigned_at = await next_of(agent, "assignment")
    assert second.attempt == 2
    assert assigned_at >= stored.available_at - 0.05
    third, _ = await next_of(agent, "assignment", timeout=15)
    assert third.attempt == 3

    deadline = time.monotonic() + 15
    while (await get_task(api, task.task_id)).status != task_pb2.TASK_STATUS_TIMEOUT:
        assert time.monotonic() < deadline, "task never timed out"
        await asyncio.sleep(0.1)
    final = await get_task(api, task.task_id)
    assert final.attempt == 3
    assert final.dead_lettered
    dead = await api.tasks.ListDeadLetters(
        task_pb2.ListDeadLettersRequest(), metadata=api.metadata
    )
    assert [t.task_id for t in dead.tasks] == [task.task_id]

    redriven = await api.tasks.RedriveTask(
        task_pb2.RedriveTaskRequest(task_id=task.task_id), metadata=api.metadata
    )
    assert redriven.task.status == task_pb2.TASK_STATUS_QUEUED
    audit_lines = (server.config.data_dir / "audit.log").read_text().splitlines()
    redrive = [json.loads(line) for line in audit_lines if '"redrive"' in line]
    assert len(redrive) == 1
    assert redrive[0]["target"] == task.task_id
    assert redrive[0]["details"] == {"attempt": 4}
    fourth, _ = await next_of(agent, "assignment")
    assert fourth.attempt == 4
    await agent.send_result(task.task_id, 4, task_pb2.TASK_STATUS_COMPLETED)
    await next_of(agent, "result_ack")
    assert (await get_task(api, task.task_id)).status == task_pb2.TASK_STATUS_COMPLETED
    await agent.close()


async def test_lost_agent_task_retried_after_grace(fast):
    server, api = fast
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(server.hub, key, cert)
    await agent.register()
    task = await submit(api, client)
    first, _ = await next_of(agent, "assignment")
    await agent.close()

    deadline = time.monotonic() + 10
    while (await get_task(api, task.task_id)).status != task_pb2.TASK_STATUS_QUEUED:
        assert time.monotonic() < deadline, "lost agent's task was not queued again"
        await asyncio.sleep(0.1)

    agent = RawAgent(server.hub, key, cert)
    await agent.register(
        running=[agent_pb2.RunningTask(task_id=task.task_id, attempt=1)]
    )
    cancel, _ = await next_of(agent, "cancellation")
    assert (cancel.task_id, cancel.attempt, cancel.reason) == (
        task.task_id,
        1,
        "superseded",
    )
    second, _ = await next_of(agent, "assignment")
    assert (second.task_id, second.attempt) == (first.task_id, 2)

    # The first attempt's late result is acknowledged but not applied.
    await agent.send_result(task.task_id, 1, task_pb2.TASK_STATUS_FAILED, "late")
    assert (await next_of(agent, "result_ack"))[0].attempt == 1
    assert (await get_task(api, task.task_id)).status == task_pb2.TASK_STATUS_RUNNING
    await agent.send_result(task.task_id, 2, task_pb2.TASK_STATUS_COMPLETED, "fresh")
    await next_of(agent, "result_ack")
    final = await get_task(api, task.task_id)
    assert final.status == task_pb2.TASK_STATUS_COMPLETED
    assert final.result.http_response.body == "fresh"
    await agent.close()


async def test_agent_back_within_grace_keeps_its_attempt(fast):
    server, api = fast
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(server.hub, key, cert)
    await agent.register()
    task = await submit(api, client)
    await next_of(agent, "assignment")
    await agent.close()

    agent = RawAgent(server.hub, key, cert)
    await agent.register(
        running=[agent_pb2.RunningTask(task_id=task.task_id, attempt=1)]
    )
    await agent.send_result(task.task_id, 1, task_pb2.TASK_STATUS_COMPLETED)
    await next_of(agent, "result_ack")
    await asyncio.sleep(1.5)  # past the lost-agent grace: nothing may be retried
    final = await get_task(api, task.task_id)
    assert final.status == task_pb2.TASK_STATUS_COMPLETED
    assert final.attempt == 1
    await agent.close()


async def test_low_priority_task_not_starved(fast):
    server, api = fast
    client, agent = await connected_agent(server, api, slots=1)

    await submit(api, client, priority=5)
    low = await submit(api, client, priority=1)
    submitted_at = time.monotonic()
    order: list[str] = []

    async def feed_high_priority():
        while True:
            await submit(api, client, priority=5)
            await asyncio.sleep(0.05)

    feeder = asyncio.create_task(feed_high_priority())
    try:
        while True:
            assignment, _ = await next_of(agent, "assignment")
            order.append(assignment.task_id)
            if assignment.task_id == low.task_id:
                waited = time.monotonic() - submitted_at
                break
            assert time.monotonic() - submitted_at < 10, "priority 1 task starved"
            await asyncio.sleep(0.05)
            await agent.send_result(assignment.task_id, assignment.attempt, 4)
    finally:
        feeder.cancel()
    aging_bound = 4 * 0.5
    # Without aging the task would wait for the whole 10 s feed; the slack
    # covers claim rounds on a loaded machine.
    assert waited <= aging_bound + 3.0
    # Newer priority 5 tasks went first until the low one had aged.
    assert len(order) >= 3
    await agent.close()


async def test_task_waiting_too_long_for_agent_times_out(fast):
    _, api = fast
    client = await add_client(api)
    task = await submit(api, client)
    deadline = time.monotonic() + 10
    while (await get_task(api, task.task_id)).status != task_pb2.TASK_STATUS_TIMEOUT:
        assert time.monotonic() < deadline, "queued task never timed out"
        await asyncio.sleep(0.1)
    final = await get_task(api, task.task_id)
    assert final.dead_lettered
    assert "no agent took the task" in final.result.error


async def test_global_max_concurrent_tasks_holds(hub_factory):
    server = await hub_factory(
        task_orchestration={"max_concurrent_tasks": 3, "watchdog_interval": "0.2s"}
    )
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login()
        agents = []
        for name in ("a", "b"):
            client = await add_client(api, name)
            key, cert, _ = await enroll(api, client)
            agent = RawAgent(server.hub, key, cert)
            await agent.register(slots=2)
            agent.start_heartbeats()
            agents.append((client, agent))
        for client, _ in agents:
            await submit(api, client)
            await submit(api, client)

        # Reading with a timeout would cancel the stream, so the hub's own
        # view shows how many tasks it assigned.
        async def tasks_in(status):
            listing = await api.tasks.ListTasks(
                task_pb2.ListTasksRequest(status=status), metadata=api.metadata
            )
            return listing.tasks

        await asyncio.sleep(1.0)
        running = await tasks_in(task_pb2.TASK_STATUS_RUNNING)
        assert len(running) == 3
        assert len(await tasks_in(task_pb2.TASK_STATUS_QUEUED)) == 1

        by_client = {client.unique_client_id: agent for client, agent in agents}
        received = {}
        for task in running:
            agent = by_client[task.client_id]
            assignment, _ = await next_of(agent, "assignment")
            received[assignment.task_id] = agent
        assert set(received) == {task.task_id for task in running}

        first = running[0]
        await received[first.task_id].send_result(first.task_id, first.attempt, 4)
        deadline = time.monotonic() + 5
        while len(await tasks_in(task_pb2.TASK_STATUS_RUNNING)) != 3:
            assert time.monotonic() < deadline, "queued task not started at the cap"
            await asyncio.sleep(0.1)
        assert await tasks_in(task_pb2.TASK_STATUS_QUEUED) == []
        dispatcher = server.hub.dispatcher
        sessions = dispatcher._sessions.values()
        assert dispatcher._inflight_total() == sum(len(s.inflight) for s in sessions)
        assert dispatcher._inflight_total() == 3
        for _, agent in agents:
            await agent.close()


async def test_task_without_client_goes_to_least_loaded(fast):
    server, api = fast
    agents = {}
    for name, capabilities in (("busy", ["http_request"]), ("idle", ["http_request"])):
        client = await add_client(api, name)
        key, cert, _ = await enroll(api, client)
        agent = RawAgent(server.hub, key, cert)
        await agent.write(
            agent_pb2.ConnectRequest(
                registration=agent_pb2.Registration(
                    capabilities=capabilities, max_concurrent_tasks=2
                )
            )
        )
        await agent.receive()
        agent.start_heartbeats()
        agents[name] = (client, agent)
    busy_client, busy_agent = agents["busy"]
    await submit(api, busy_client)
    await next_of(busy_agent, "assignment")

    routed = (
        await api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(task=http_spec(), run_async=True),
            metadata=api.metadata,
        )
    ).task
    assert routed.client_id == agents["idle"][0].unique_client_id

    command = task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_COMMAND, command=task_pb2.CommandTask(command="true")
    )
    from tests.server.test_api import rpc_error

    error = await rpc_error(
        api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(task=command, run_async=True),
            metadata=api.metadata,
        )
    )
    assert "runs command tasks" in error.details()
    for _, agent in agents.values():
        await agent.close()


async def test_retryable_failure_gets_new_attempt(fast):
    server, api = fast
    client, agent = await connected_agent(server, api)
    task = await submit(api, client)

    async def fail(attempt: int, retryable: bool) -> None:
        await agent.write(
            agent_pb2.ConnectRequest(
                result=agent_pb2.ResultReport(
                    task_id=task.task_id,
                    attempt=attempt,
                    status=task_pb2.TASK_STATUS_FAILED,
                    result=task_pb2.TaskResult(
                        error="connection refused", retryable=retryable
                    ),
                )
            )
        )

    first, _ = await next_of(agent, "assignment")
    await fail(first.attempt, retryable=True)
    second, _ = await next_of(agent, "assignment")
    assert second.attempt == 2
    await fail(second.attempt, retryable=False)
    await next_of(agent, "result_ack")
    final = await get_task(api, task.task_id)
    assert final.status == task_pb2.TASK_STATUS_FAILED
    assert final.attempt == 2
    assert not final.dead_lettered
    await agent.close()


async def test_retry_on_failure_exhausted_dead_letters(fast):
    server, api = fast
    client, agent = await connected_agent(server, api)
    task = (
        await api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id,
                task=http_spec(),
                run_async=True,
                max_attempts=2,
                retry_on_failure=True,
            ),
            metadata=api.metadata,
        )
    ).task
    assert task.retry_on_failure
    for expected_attempt in (1, 2):
        assignment, _ = await next_of(agent, "assignment")
        assert assignment.attempt == expected_attempt
        await agent.send_result(
            task.task_id, assignment.attempt, task_pb2.TASK_STATUS_FAILED
        )
    await next_of(agent, "result_ack")
    deadline = time.monotonic() + 5
    while not (final := await get_task(api, task.task_id)).dead_lettered:
        assert time.monotonic() < deadline, "exhausted task not dead-lettered"
        await asyncio.sleep(0.05)
    assert final.status == task_pb2.TASK_STATUS_FAILED
    assert final.attempt == 2
    await agent.close()


async def test_progress_shows_on_running_task(fast):
    server, api = fast
    client, agent = await connected_agent(server, api, heartbeats=False)
    task = await submit(api, client)
    assignment, _ = await next_of(agent, "assignment")
    await agent.write(
        agent_pb2.ConnectRequest(
            progress=agent_pb2.ProgressReport(
                task_id=task.task_id,
                attempt=assignment.attempt,
                progress=task_pb2.TaskProgress(percent=40, message="halfway soon"),
            )
        )
    )
    deadline = time.monotonic() + 5
    while (running := await get_task(api, task.task_id)).progress.percent != 40:
        assert time.monotonic() < deadline, "progress never showed"
        await asyncio.sleep(0.05)
    assert running.progress.message == "halfway soon"
    await agent.send_result(
        task.task_id, assignment.attempt, task_pb2.TASK_STATUS_COMPLETED
    )
    await next_of(agent, "result_ack")
    done = await get_task(api, task.task_id)
    assert not done.HasField("progress")
    await agent.close()


async def test_tenant_limits_reject_extra_clients_and_tasks(api, hub_server):
    from ris.v1 import tenant_pb2
    from ris_server import rbac
    from tests.server.test_api import add_user, rpc_error

    await api.tenants.CreateTenant(
        tenant_pb2.CreateTenantRequest(
            code="small",
            name="Small",
            limits=tenant_pb2.ResourceLimits(max_clients=1, max_tasks=2),
        ),
        metadata=api.metadata,
    )
    await add_user(hub_server, "small", "ops@small", rbac.ADMIN)
    await api.login("ops@small", "pw-ops@small", "small")
    client = await add_client(api, "only")
    extra = await rpc_error(add_client(api, "second"))
    assert extra.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "limit of 1 clients" in extra.details()
    for _ in range(2):
        await submit(api, client)
    over = await rpc_error(submit(api, client))
    assert over.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "its limit" in over.details()


async def test_hub_never_sends_more_than_agent_slots(fast):
    server, api = fast
    client, agent = await connected_agent(server, api, slots=2)
    for _ in range(5):
        await submit(api, client)
    first = [(await next_of(agent, "assignment"))[0] for _ in range(2)]
    await asyncio.sleep(0.5)
    running = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(status=task_pb2.TASK_STATUS_RUNNING),
        metadata=api.metadata,
    )
    assert len(running.tasks) == 2
    await agent.send_result(first[0].task_id, 1, task_pb2.TASK_STATUS_COMPLETED)
    third, _ = await next_of(agent, "assignment")
    assert third.task_id not in {a.task_id for a in first}
    await agent.close()
