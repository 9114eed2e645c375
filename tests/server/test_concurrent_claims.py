"""Claims under concurrent submits: slots and the global cap hold, nothing waits."""

import asyncio

from ris.v1 import task_pb2
from tests.server.conftest import connect_api
from tests.server.test_orchestration import connected_agent, next_of, submit
from tests.support import Api


async def answer_all(agent, expected: int, max_running: list[int], slots: int):
    """Complete `expected` assignments, checking the agent never exceeds `slots`."""
    running: set[str] = set()
    done = 0
    while done < expected:
        assignment, _ = await next_of(agent, "assignment")
        running.add(assignment.task_id)
        max_running[0] = max(max_running[0], len(running))
        assert len(running) <= slots
        await asyncio.sleep(0.01)
        await agent.send_result(
            assignment.task_id, assignment.attempt, task_pb2.TASK_STATUS_COMPLETED
        )
        running.discard(assignment.task_id)
        done += 1


async def test_concurrent_submits_respect_slots_and_cap(hub_factory):
    server = await hub_factory(
        task_orchestration={"max_concurrent_tasks": 3, "watchdog_interval": "30s"}
    )
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login()
        first, agent_a = await connected_agent(server, api, "a", slots=2)
        second, agent_b = await connected_agent(server, api, "b", slots=2)
        dispatcher = server.hub.dispatcher
        peak = [0]

        async def watch_cap():
            while True:
                peak[0] = max(peak[0], dispatcher._inflight_total())
                await asyncio.sleep(0.001)

        watcher = asyncio.create_task(watch_cap())
        tasks = await asyncio.gather(
            *(submit(api, client) for client in [first, second] * 10)
        )
        agent_peaks = [[0], [0]]
        # The watchdog runs every 30 s, so only the fills of submits and
        # results can start these tasks before the timeout.
        await asyncio.wait_for(
            asyncio.gather(
                answer_all(agent_a, 10, agent_peaks[0], 2),
                answer_all(agent_b, 10, agent_peaks[1], 2),
            ),
            timeout=20,
        )
        watcher.cancel()
        assert peak[0] <= 3
        assert dispatcher._reserved == 0
        for task in tasks:
            finished = await api.tasks.GetTask(
                task_pb2.GetTaskRequest(task_id=task.task_id), metadata=api.metadata
            )
            assert finished.task.status == task_pb2.TASK_STATUS_COMPLETED
        await agent_a.close()
        await agent_b.close()
