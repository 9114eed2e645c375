"""Callers that submit no-op tasks and wait for their results.

Each call is a synchronous ExecuteTask (gRPC) or POST /platform/v1/task/execute
(REST edge) that returns once the hub has stored the task's result, so its
latency is submit to persisted result. A closed loop (`rate` 0) keeps
`concurrency` calls in flight per process; an open loop starts calls at a
fixed total rate whatever the responses do.
"""

import asyncio
import multiprocessing
import queue
import ssl
import time

import grpc
import httpx

from bench.hub import login
from bench.machine import latency_summary, raise_fd_limit
from ris.v1 import task_pb2, task_pb2_grpc

# A task that the simulated agents complete without doing anything; the URL is
# never fetched.
NOOP_URL = "http://127.0.0.1:9/noop"


def noop_spec() -> task_pb2.TaskSpec:
    return task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_HTTP_REQUEST,
        http_request=task_pb2.HttpRequestTask(method="GET", url=NOOP_URL),
    )


NOOP_JSON = {
    "type": "TASK_TYPE_HTTP_REQUEST",
    "http_request": {"method": "GET", "url": NOOP_URL},
}


class GrpcSubmitter:
    def __init__(self, hub: dict) -> None:
        credentials = grpc.ssl_channel_credentials(hub["ca_pem"])
        self.channel = grpc.aio.secure_channel(hub["grpc"], credentials)
        self.stub = task_pb2_grpc.TaskServiceStub(self.channel)
        self.metadata = ()

    async def open(self) -> None:
        self.metadata = await login(self.channel)

    async def submit(self, client_id: str) -> str:
        """Run one task to its end; return its status name."""
        response = await self.stub.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client_id, task=noop_spec(), timeout=30
            ),
            metadata=self.metadata,
        )
        return task_pb2.TaskStatus.Name(response.task.status)

    async def close(self) -> None:
        await self.channel.close()


class RestSubmitter:
    def __init__(self, hub: dict, concurrency: int) -> None:
        self._grpc = GrpcSubmitter(hub)
        context = ssl.create_default_context(cadata=hub["ca_pem"].decode())
        # Idle connections are dropped before uvicorn's 5 s keep-alive timeout,
        # so a request never races the server closing its connection.
        limits = httpx.Limits(
            max_connections=concurrency,
            max_keepalive_connections=concurrency,
            keepalive_expiry=3.0,
        )
        self.client = httpx.AsyncClient(
            base_url=hub["edge"], verify=context, limits=limits, timeout=60
        )
        self.headers: dict = {}

    async def open(self) -> None:
        # The edge accepts the same access token as the gRPC API.
        await self._grpc.open()
        self.headers = dict(self._grpc.metadata)

    async def submit(self, client_id: str) -> str:
        response = await self.client.post(
            "/platform/v1/task/execute",
            json={"client_id": client_id, "task": NOOP_JSON, "timeout": 30},
            headers=self.headers,
        )
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        # The edge wraps the task in {"success": true, "data": {...}} and
        # writes enum values as lower-case short names ("completed").
        task = response.json().get("data") or {}
        status = str(task.get("status", "missing status"))
        return f"TASK_STATUS_{status.upper()}" if status != "missing status" else status

    async def close(self) -> None:
        await self.client.aclose()
        await self._grpc.close()


async def _run_callers(hub: dict, plan: dict, results) -> None:
    if plan["transport"] == "rest":
        submitter = RestSubmitter(hub, plan["concurrency"])
    else:
        submitter = GrpcSubmitter(hub)
    await submitter.open()
    client_ids = plan["client_ids"]
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    samples: list[str] = []
    counter = 0

    async def one() -> None:
        nonlocal counter
        counter += 1
        client_id = client_ids[counter % len(client_ids)]
        started = time.perf_counter()
        try:
            status = await submitter.submit(client_id)
        except (grpc.aio.AioRpcError, httpx.HTTPError) as error:
            status = type(error).__name__
            if len(samples) < 5:
                samples.append(str(error)[:300])
        if status == "TASK_STATUS_COMPLETED":
            latencies.append(time.perf_counter() - started)
        outcomes[status] = outcomes.get(status, 0) + 1

    # Warm-up calls open connections and fill caches before the clock runs.
    await asyncio.gather(*(one() for _ in range(min(10, plan["concurrency"]))))
    latencies.clear()
    outcomes.clear()
    samples.clear()
    end = time.perf_counter() + plan["duration"]
    started = time.perf_counter()
    if plan["rate"] <= 0:

        async def loop() -> None:
            while time.perf_counter() < end:
                await one()

        await asyncio.gather(*(loop() for _ in range(plan["concurrency"])))
    else:
        interval = 1.0 / plan["rate"]
        pending: set[asyncio.Task] = set()
        next_at = time.perf_counter()
        while next_at < end:
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one())
            pending.add(task)
            task.add_done_callback(pending.discard)
            next_at += interval
        if pending:
            await asyncio.wait(pending, timeout=60)
    elapsed = time.perf_counter() - started
    await submitter.close()
    results.put(
        {
            "elapsed": elapsed,
            "latencies": latencies,
            "outcomes": outcomes,
            "error_samples": samples,
        }
    )


def caller_main(hub: dict, plan: dict, results) -> None:
    raise_fd_limit()
    asyncio.run(_run_callers(hub, plan, results))


def run_callers(
    hub: dict,
    client_ids: list[str],
    *,
    transport: str,
    processes: int,
    concurrency: int,
    duration: float,
    rate: float = 0.0,
) -> dict:
    """Run caller processes; return completed tasks per second and latencies.

    `concurrency` is per process; `rate` is the total over all processes.
    """
    if transport not in ("grpc", "rest"):
        raise ValueError(f"transport must be 'grpc' or 'rest', got {transport!r}")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = []
    for _ in range(processes):
        plan = {
            "transport": transport,
            "client_ids": client_ids,
            "concurrency": concurrency,
            "duration": duration,
            "rate": rate / processes,
        }
        process = context.Process(
            target=caller_main, args=(hub, plan, results), daemon=True
        )
        process.start()
        workers.append(process)
    reports = []
    deadline = time.monotonic() + duration + 180
    while len(reports) < processes:
        try:
            reports.append(results.get(timeout=1.0))
        except queue.Empty:
            if time.monotonic() > deadline or not any(p.is_alive() for p in workers):
                for process in workers:
                    process.kill()
                raise RuntimeError(
                    f"{len(reports)} of {processes} caller processes reported"
                ) from None
    for process in workers:
        process.join(timeout=30)
    latencies = [x for r in reports for x in r["latencies"]]
    outcomes: dict[str, int] = {}
    for report in reports:
        for status, count in report["outcomes"].items():
            outcomes[status] = outcomes.get(status, 0) + count
    elapsed = max(r["elapsed"] for r in reports)
    completed = outcomes.get("TASK_STATUS_COMPLETED", 0)
    return {
        "transport": transport,
        "processes": processes,
        "concurrency_per_process": concurrency,
        "offered_rate": rate or None,
        "elapsed_seconds": round(elapsed, 3),
        "completed": completed,
        "not_completed": sum(outcomes.values()) - completed,
        "outcomes": outcomes,
        "tasks_per_second": round(completed / elapsed, 1) if elapsed else 0.0,
        "latency": latency_summary(latencies),
        "error_samples": [s for r in reports for s in r["error_samples"]][:5],
    }
