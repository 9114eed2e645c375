"""Simulated agents: one mTLS channel and one Connect stream each.

A worker process runs a share of the agents on one asyncio loop. Each agent
registers, heartbeats at the configured interval and responds to every
assignment at once with a COMPLETED result (a no-op task), as the reference
agent would after running it.
"""

import asyncio
import multiprocessing
import queue
import random
import time
from dataclasses import dataclass, field

import grpc

from bench.machine import latency_summary, raise_fd_limit
from ris.v1 import agent_pb2, agent_pb2_grpc, task_pb2

# The reference agent's keepalive settings (ris_agent.connection), plus a
# subchannel pool of its own per channel so that no two agents share a
# connection even if their settings match.
CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.use_local_subchannel_pool", 1),
]
CONNECT_TIMEOUT = 120.0


@dataclass
class AgentStats:
    """Counters of one worker process, reset when measuring starts."""

    heartbeat_latencies: list[float] = field(default_factory=list)
    assignments: int = 0
    results_acked: int = 0
    stream_errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.stream_errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text[:300])


class SimulatedAgent:
    def __init__(self, hub: dict, key_pem: bytes, cert_pem: bytes, stats) -> None:
        credentials = grpc.ssl_channel_credentials(hub["ca_pem"], key_pem, cert_pem)
        self.channel = grpc.aio.secure_channel(
            hub["agent"], credentials, options=CHANNEL_OPTIONS
        )
        self.stats = stats
        self.call = None
        self.alive = False
        self._write_lock = asyncio.Lock()
        self._sent: dict[int, float] = {}
        self._tasks: list[asyncio.Task] = []

    async def connect(self, slots: int) -> float:
        """Open the stream and register; return seconds until the ack."""
        started = time.perf_counter()
        self.call = agent_pb2_grpc.AgentServiceStub(self.channel).Connect()
        await self.call.write(
            agent_pb2.ConnectRequest(
                registration=agent_pb2.Registration(
                    hostname="bench",
                    version="bench",
                    capabilities=["http_request", "command"],
                    max_concurrent_tasks=slots,
                    host_type="linux/x86_64",
                )
            )
        )
        first = await asyncio.wait_for(self.call.read(), CONNECT_TIMEOUT)
        if first is grpc.aio.EOF or not first.HasField("registration_ack"):
            raise RuntimeError(f"expected a registration_ack, got {first!r}")
        self.alive = True
        return time.perf_counter() - started

    def start(self, heartbeat: float) -> None:
        self._tasks = [
            asyncio.create_task(self._read_loop()),
            asyncio.create_task(self._heartbeat_loop(heartbeat)),
        ]

    async def _write(self, message: agent_pb2.ConnectRequest) -> None:
        async with self._write_lock:
            await self.call.write(message)

    async def _heartbeat_loop(self, interval: float) -> None:
        # A random phase spreads the heartbeats of all agents over the interval.
        await asyncio.sleep(random.uniform(0, interval))
        sequence = 0
        try:
            while self.alive:
                sequence += 1
                self._sent[sequence] = time.perf_counter()
                await self._write(
                    agent_pb2.ConnectRequest(
                        heartbeat=agent_pb2.Heartbeat(sequence=sequence)
                    )
                )
                await asyncio.sleep(interval)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as error:
            self._fail(f"heartbeat write failed: {error}")

    async def _read_loop(self) -> None:
        stats = self.stats
        try:
            while True:
                message = await self.call.read()
                if message is grpc.aio.EOF:
                    self._fail("the hub ended the stream")
                    return
                kind = message.WhichOneof("message")
                if kind == "heartbeat_ack":
                    sent = self._sent.pop(message.heartbeat_ack.sequence, None)
                    if sent is not None:
                        stats.heartbeat_latencies.append(time.perf_counter() - sent)
                elif kind == "assignment":
                    stats.assignments += 1
                    assignment = message.assignment
                    await self._write(
                        agent_pb2.ConnectRequest(
                            result=agent_pb2.ResultReport(
                                task_id=assignment.task_id,
                                attempt=assignment.attempt,
                                status=task_pb2.TASK_STATUS_COMPLETED,
                                result=task_pb2.TaskResult(execution_time=0),
                            )
                        )
                    )
                elif kind == "result_ack":
                    stats.results_acked += 1
                elif kind == "drain":
                    self._fail("the hub sent a drain")
                    return
        except grpc.aio.AioRpcError as error:
            self._fail(f"stream failed: {error.code().name} {error.details()}")

    def _fail(self, text: str) -> None:
        if self.alive:
            self.alive = False
            self.stats.error(text)

    async def close(self) -> None:
        self.alive = False
        for task in self._tasks:
            task.cancel()
        await self.channel.close()


async def _run_worker(
    hub: dict,
    credentials: list[tuple[bytes, bytes]],
    options: dict,
    control,
    results,
) -> None:
    stats = AgentStats()
    agents = [SimulatedAgent(hub, key, cert, stats) for key, cert in credentials]
    in_flight = asyncio.Semaphore(options.get("connect_concurrency", 64))
    connect_latencies: list[float] = []
    failures: list[str] = []

    async def connect(agent: SimulatedAgent) -> None:
        async with in_flight:
            try:
                connect_latencies.append(await agent.connect(options["slots"]))
                agent.start(options["heartbeat"])
            except (grpc.aio.AioRpcError, RuntimeError, TimeoutError) as error:
                failures.append(str(error)[:300])

    started = time.perf_counter()
    await asyncio.gather(*(connect(agent) for agent in agents))
    results.put(
        (
            "connected",
            {
                "agents": len(agents),
                "connected": len(connect_latencies),
                "failed": len(failures),
                "failure_samples": failures[:5],
                "ramp_seconds": round(time.perf_counter() - started, 3),
                "connect_latencies": connect_latencies,
            },
        )
    )
    while True:
        try:
            command = control.get_nowait()
        except queue.Empty:
            await asyncio.sleep(0.1)
            continue
        if command == "measure":
            stats.heartbeat_latencies.clear()
            stats.assignments = stats.results_acked = 0
        elif command == "stop":
            break
    held = sum(1 for agent in agents if agent.alive)
    results.put(
        (
            "final",
            {
                "held": held,
                "heartbeat_latencies": stats.heartbeat_latencies,
                "assignments": stats.assignments,
                "results_acked": stats.results_acked,
                "stream_errors": stats.stream_errors,
                "error_samples": stats.error_samples,
            },
        )
    )
    await asyncio.gather(*(agent.close() for agent in agents))


def worker_main(hub, credentials, options, control, results) -> None:
    raise_fd_limit()
    asyncio.run(_run_worker(hub, credentials, options, control, results))


class AgentFleet:
    """Worker processes that hold the simulated agents between start and stop."""

    def __init__(
        self,
        hub: dict,
        credentials: list[tuple[bytes, bytes]],
        *,
        workers: int,
        heartbeat: float,
        slots: int = 4,
        connect_concurrency: int = 64,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._results = context.Queue()
        self._controls = []
        self._processes = []
        workers = max(1, min(workers, len(credentials)))
        options = {
            "heartbeat": heartbeat,
            "slots": slots,
            "connect_concurrency": connect_concurrency,
        }
        for index in range(workers):
            share = credentials[index::workers]
            control = context.Queue()
            process = context.Process(
                target=worker_main,
                args=(hub, share, options, control, self._results),
                daemon=True,
            )
            self._controls.append(control)
            self._processes.append(process)

    def _collect(self, kind: str, timeout: float) -> list[dict]:
        collected = []
        deadline = time.monotonic() + timeout
        while len(collected) < len(self._processes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{len(collected)} of {len(self._processes)} agent workers "
                    f"reported {kind!r} within {timeout:.0f} s"
                )
            try:
                got_kind, payload = self._results.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                if not all(p.is_alive() for p in self._processes):
                    dead = [p.exitcode for p in self._processes if not p.is_alive()]
                    raise RuntimeError(
                        f"an agent worker exited early (exit codes {dead})"
                    ) from None
                continue
            if got_kind == kind:
                collected.append(payload)
        return collected

    def start(self, timeout: float = 900.0) -> dict:
        """Start the workers and wait until every agent connected or failed."""
        started = time.perf_counter()
        for process in self._processes:
            process.start()
        reports = self._collect("connected", timeout)
        latencies = [x for r in reports for x in r["connect_latencies"]]
        return {
            "agents": sum(r["agents"] for r in reports),
            "connected": sum(r["connected"] for r in reports),
            "failed": sum(r["failed"] for r in reports),
            "failure_samples": [s for r in reports for s in r["failure_samples"]][:5],
            "ramp_seconds": round(time.perf_counter() - started, 3),
            "connect_latency": latency_summary(latencies),
        }

    def measure(self) -> None:
        """Reset the counters: the figures from here on are the steady state."""
        for control in self._controls:
            control.put("measure")

    def stop(self, timeout: float = 120.0) -> dict:
        for control in self._controls:
            control.put("stop")
        reports = self._collect("final", timeout)
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        latencies = [x for r in reports for x in r["heartbeat_latencies"]]
        return {
            "held": sum(r["held"] for r in reports),
            "heartbeat_ack": latency_summary(latencies),
            "assignments": sum(r["assignments"] for r in reports),
            "results_acked": sum(r["results_acked"] for r in reports),
            "stream_errors": sum(r["stream_errors"] for r in reports),
            "error_samples": [s for r in reports for s in r["error_samples"]][:5],
        }

    def kill(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.kill()
