"""The hub scenarios: connections, dispatch, edge and enroll.

Each scenario provisions one hub data directory, then runs `runs` times on a
freshly started hub process and reports every run plus the medians.
"""

import asyncio
import multiprocessing
import queue
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench.agents import AgentFleet
from bench.callers import run_callers
from bench.hub import (
    BenchHub,
    ProcessSampler,
    add_clients,
    csr_pem,
    enrollment_tokens,
    new_key,
    provision_agents,
)
from bench.machine import (
    latency_summary,
    load_average,
    median_of,
    raise_fd_limit,
    ratio,
)
from ris.v1 import agent_pb2, agent_pb2_grpc

WORK_ROOT = Path(__file__).resolve().parent.parent / "build" / "bench-data"


def new_root(name: str) -> Path:
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=WORK_ROOT))


@dataclass
class ConnectionsParams:
    agents: int = 10_000
    heartbeat: float = 30.0
    hold: float = 0.0  # 0 means two heartbeat intervals plus 5 s
    workers: int = 4
    enroll_mode: str = "ca"
    runs: int = 3
    profiler: list[str] | None = None


def connections(params: ConnectionsParams) -> dict:
    """Ramp up to N agents with heartbeats; measure memory, latency and CPU."""
    hold = params.hold or params.heartbeat * 2 + 5
    hub = BenchHub(
        new_root("connections"),
        heartbeat=params.heartbeat,
        clients=params.agents,
        profiler=params.profiler,
    )
    try:
        hub.start()
        started = time.perf_counter()
        issued = asyncio.run(provision_agents(hub, params.agents, params.enroll_mode))
        provision_seconds = time.perf_counter() - started
        hub.stop()
        credentials = [(c.key_pem, c.cert_pem) for c in issued]
        runs = []
        for _ in range(params.runs):
            runs.append(_connections_run(hub, credentials, params, hold))
    finally:
        hub.stop()
        hub.remove()
    return {
        "parameters": {**vars(params), "hold": hold, "profiler": None},
        "certificates": (
            "signed with the hub CA files (no Enroll RPC)"
            if params.enroll_mode == "ca"
            else "issued by the Enroll RPC with enrollment tokens"
        ),
        "provision_seconds": round(provision_seconds, 2),
        "runs": runs,
        "median": {
            key: median_of(runs, key)
            for key in (
                "held",
                "ramp_seconds",
                "connect_latency.p50_ms",
                "connect_latency.p99_ms",
                "heartbeat_ack.p50_ms",
                "heartbeat_ack.p99_ms",
                "hub_rss_per_agent_kb",
                "hub_cpu_percent_hold",
                "hub_cpu_percent_ramp",
            )
        },
    }


def _connections_run(hub, credentials, params, hold: float) -> dict:
    load = load_average()
    hub.start()
    sampler = ProcessSampler(hub.pid)
    time.sleep(1.0)
    rss_idle = sampler.rss_bytes()
    fleet = AgentFleet(
        hub.connection_info(),
        credentials,
        workers=params.workers,
        heartbeat=params.heartbeat,
    )
    try:
        sampler.restart_cpu()
        ramp = fleet.start()
        cpu_ramp = sampler.cpu_percent()
        fleet.measure()
        sampler.restart_cpu()
        time.sleep(hold)
        cpu_hold = sampler.cpu_percent()
        rss_held = sampler.rss_bytes()
        open_files = sampler.open_files()
        final = fleet.stop()
    finally:
        fleet.kill()
        hub.stop()
    held = final["held"]
    per_agent = (rss_held - rss_idle) / held / 1024 if held else None
    return {
        "load_average": load,
        **ramp,
        **final,
        "hub_rss_idle_mb": round(rss_idle / 2**20, 1),
        "hub_rss_held_mb": round(rss_held / 2**20, 1),
        "hub_rss_per_agent_kb": round(per_agent, 2) if per_agent else None,
        "hub_open_files": open_files,
        "hub_cpu_percent_ramp": cpu_ramp,
        "hub_cpu_percent_hold": cpu_hold,
    }


@dataclass
class DispatchParams:
    agents: int = 100
    slots: int = 8
    callers: int = 4
    concurrency: int = 16
    duration: float = 20.0
    runs: int = 3
    agent_workers: int = 2
    profiler: list[str] | None = None


class DispatchBed:
    """A hub with connected simulated agents, ready for callers."""

    def __init__(self, params: DispatchParams, name: str) -> None:
        self.params = params
        self.hub = BenchHub(
            new_root(name), clients=params.agents, profiler=params.profiler
        )
        self.fleet: AgentFleet | None = None
        self.client_ids: list[str] = []

    def __enter__(self) -> "DispatchBed":
        try:
            self.hub.start()
            issued = asyncio.run(provision_agents(self.hub, self.params.agents, "ca"))
            self.client_ids = [c.unique_client_id for c in issued]
            self.fleet = AgentFleet(
                self.hub.connection_info(),
                [(c.key_pem, c.cert_pem) for c in issued],
                workers=self.params.agent_workers,
                heartbeat=30.0,
                slots=self.params.slots,
            )
            ramp = self.fleet.start()
            if ramp["connected"] != self.params.agents:
                raise RuntimeError(f"not every agent connected: {ramp}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def callers(self, transport: str, rate: float = 0.0) -> dict:
        params = self.params
        load = load_average()
        sampler = ProcessSampler(self.hub.pid)
        result = run_callers(
            self.hub.connection_info(),
            self.client_ids,
            transport=transport,
            processes=params.callers,
            concurrency=params.concurrency,
            duration=params.duration,
            rate=rate,
        )
        # Includes the callers' start-up and warm-up, when the hub is idle.
        result["hub_cpu_percent"] = sampler.cpu_percent()
        return {"load_average": load, **result}

    def __exit__(self, *exc) -> None:
        if self.fleet is not None:
            try:
                self.fleet.stop(timeout=30)
            except (TimeoutError, RuntimeError):
                pass
            self.fleet.kill()
        self.hub.stop()
        self.hub.remove()


def dispatch(params: DispatchParams) -> dict:
    """Saturate the hub with synchronous no-op tasks, then run at half that rate."""
    runs = []
    with DispatchBed(params, "dispatch") as bed:
        for _ in range(params.runs):
            load = load_average()
            saturation = bed.callers("grpc")
            half = bed.callers("grpc", rate=saturation["tasks_per_second"] / 2)
            runs.append({"load_average": load, "saturation": saturation, "half": half})
    return {
        "parameters": {**vars(params), "profiler": None},
        "runs": runs,
        "median": {
            key: median_of(runs, key)
            for key in (
                "saturation.tasks_per_second",
                "saturation.latency.p50_ms",
                "saturation.latency.p99_ms",
                "saturation.latency.max_ms",
                "half.tasks_per_second",
                "half.latency.p50_ms",
                "half.latency.p99_ms",
                "half.latency.max_ms",
            )
        },
    }


def edge(params: DispatchParams) -> dict:
    """Compare the REST edge with direct gRPC, both measured in each run."""
    runs = []
    with DispatchBed(params, "edge") as bed:
        for _ in range(params.runs):
            load = load_average()
            grpc_max = bed.callers("grpc")
            rest_max = bed.callers("rest")
            # Latency is compared at one offered rate both transports sustain.
            rate = min(grpc_max["tasks_per_second"], rest_max["tasks_per_second"]) / 2
            grpc_half = bed.callers("grpc", rate=rate)
            rest_half = bed.callers("rest", rate=rate)
            runs.append(
                {
                    "load_average": load,
                    "grpc_saturation": grpc_max,
                    "rest_saturation": rest_max,
                    "grpc_half": grpc_half,
                    "rest_half": rest_half,
                    "throughput_ratio": ratio(
                        rest_max["tasks_per_second"], grpc_max["tasks_per_second"]
                    ),
                    "latency_p50_ratio": ratio(
                        rest_half["latency"]["p50_ms"], grpc_half["latency"]["p50_ms"]
                    ),
                    "latency_p99_ratio": ratio(
                        rest_half["latency"]["p99_ms"], grpc_half["latency"]["p99_ms"]
                    ),
                }
            )
    return {
        "parameters": {**vars(params), "profiler": None},
        "runs": runs,
        "median": {
            key: median_of(runs, key)
            for key in (
                "grpc_saturation.tasks_per_second",
                "rest_saturation.tasks_per_second",
                "grpc_half.latency.p50_ms",
                "rest_half.latency.p50_ms",
                "grpc_half.latency.p99_ms",
                "rest_half.latency.p99_ms",
                "throughput_ratio",
                "latency_p50_ratio",
                "latency_p99_ratio",
            )
        },
    }


@dataclass
class EnrollParams:
    enrollments: int = 500
    processes: int = 2
    concurrency: int = 16
    runs: int = 3


async def _enroll_batch(hub: dict, jobs: list, concurrency: int) -> dict:
    credentials = grpc.ssl_channel_credentials(hub["ca_pem"])
    latencies: list[float] = []
    failures: list[str] = []
    async with grpc.aio.secure_channel(hub["grpc"], credentials) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        semaphore = asyncio.Semaphore(concurrency)

        async def enroll(token: str, csr: str) -> None:
            async with semaphore:
                started = time.perf_counter()
                try:
                    response = await stub.Enroll(
                        agent_pb2.EnrollRequest(token=token, csr_pem=csr)
                    )
                except grpc.aio.AioRpcError as error:
                    failures.append(f"{error.code().name}: {error.details()}")
                    return
                if response.certificate_pem.startswith("-----BEGIN CERTIFICATE"):
                    latencies.append(time.perf_counter() - started)
                else:
                    failures.append("response without a certificate")

        started = time.perf_counter()
        await asyncio.gather(*(enroll(token, csr) for token, csr in jobs))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "failures": failures}


def _enroll_worker(hub: dict, jobs: list, concurrency: int, start, results) -> None:
    raise_fd_limit()
    start.wait()
    results.put(asyncio.run(_enroll_batch(hub, jobs, concurrency)))


def enroll(params: EnrollParams) -> dict:
    """Enrollments per second through the real Enroll RPC."""
    hub = BenchHub(new_root("enroll"), clients=params.enrollments * params.runs)
    runs = []
    try:
        hub.start()
        for run in range(params.runs):
            clients = asyncio.run(add_clients(hub, params.enrollments, f"enroll{run}"))
            pairs = asyncio.run(enrollment_tokens(hub, clients))
            # Keys and CSRs are made before the clock starts, as agents do.
            jobs = [(token, csr_pem(new_key()[0])) for _, token in pairs]
            runs.append(_enroll_run(hub, jobs, params))
    finally:
        hub.stop()
        hub.remove()
    return {
        "parameters": vars(params),
        "runs": runs,
        "median": {
            key: median_of(runs, key)
            for key in (
                "enrollments_per_second",
                "latency.p50_ms",
                "latency.p99_ms",
            )
        },
    }


def _enroll_run(hub: BenchHub, jobs: list, params: EnrollParams) -> dict:
    load = load_average()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Event()
    workers = []
    for index in range(params.processes):
        process = context.Process(
            target=_enroll_worker,
            args=(
                hub.connection_info(),
                jobs[index :: params.processes],
                params.concurrency,
                start,
                results,
            ),
            daemon=True,
        )
        process.start()
        workers.append(process)
    time.sleep(1.0)  # let the workers import before the common start
    start.set()
    reports = []
    while len(reports) < len(workers):
        try:
            reports.append(results.get(timeout=300))
        except queue.Empty:
            raise RuntimeError("an enroll worker did not report in 300 s") from None
    for process in workers:
        process.join(timeout=30)
    latencies = [x for r in reports for x in r["latencies"]]
    elapsed = max(r["elapsed"] for r in reports)
    failures = [f for r in reports for f in r["failures"]]
    return {
        "load_average": load,
        "enrolled": len(latencies),
        "failed": len(failures),
        "failure_samples": failures[:5],
        "elapsed_seconds": round(elapsed, 3),
        "enrollments_per_second": round(len(latencies) / elapsed, 1),
        "latency": latency_summary(latencies),
    }
