"""A bare grpc.aio bidirectional echo over mutual TLS: the runtime's ceiling.

The echo server runs in its own process with the hub's server options and
echoes raw bytes, so it measures what grpc.aio and one Python process allow
without any hub logic. `ceiling` runs it next to the dispatch scenario and
reports dispatch as a fraction of it.
"""

import argparse
import asyncio
import datetime
import json
import multiprocessing
import os
import queue
import subprocess
import sys
import time
from pathlib import Path

import grpc
import psutil
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.machine import load_average, median_of, raise_fd_limit, ratio

METHOD = "/bench.Echo/Stream"
# A heartbeat-sized message, like the agent stream's small frames.
PAYLOAD = b"x" * 64
# Messages on the wire per no-op task: ExecuteTask request and response,
# assignment, result and result acknowledgement.
MESSAGES_PER_TASK = 5


def _pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert(subject: str, key, issuer_key, issuer_name, *, ca=False, ip=False):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    )
    if ip:
        import ipaddress

        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_certificates(directory: Path) -> dict:
    """Write a throwaway CA, a server and a client certificate; return PEMs."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench echo CA")])
    ca = _cert("bench echo CA", ca_key, ca_key, ca_name, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("echo", server_key, ca_key, ca_name, ip=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("echo client", client_key, ca_key, ca_name)
    pems = {
        "ca": ca.public_bytes(serialization.Encoding.PEM),
        "server_key": _pem(server_key),
        "server_cert": server.public_bytes(serialization.Encoding.PEM),
        "client_key": _pem(client_key),
        "client_cert": client.public_bytes(serialization.Encoding.PEM),
    }
    for name, pem in pems.items():
        (directory / f"{name}.pem").write_bytes(pem)
    return pems


async def _stream(request_iterator, context):
    async for message in request_iterator:
        yield message


async def serve(directory: Path) -> None:
    """Run the echo server until SIGTERM; write its port to DIR/port."""
    from ris_server.app import SERVER_OPTIONS

    raise_fd_limit()
    pems = {p.stem: p.read_bytes() for p in directory.glob("*.pem")}
    extra = directory / "options.json"
    options = list(SERVER_OPTIONS)
    if extra.exists():
        options += [tuple(pair) for pair in json.loads(extra.read_text())]
    server = grpc.aio.server(options=options)
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Stream": grpc.stream_stream_rpc_method_handler(_stream)}
    )
    server.add_generic_rpc_handlers((handler,))
    credentials = grpc.ssl_server_credentials(
        [(pems["server_key"], pems["server_cert"])],
        root_certificates=pems["ca"],
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    # A plaintext port on the same server separates the cost of TLS.
    plain_port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    (directory / "port.tmp").write_text(f"{port} {plain_port}")
    os.replace(directory / "port.tmp", directory / "port")
    await server.wait_for_termination()


class EchoServer:
    """The echo server as a subprocess."""

    def __init__(
        self, directory: Path, options: list | None = None, env: dict | None = None
    ) -> None:
        """`options` are channel arguments added to the hub's server options."""
        self.directory = directory
        self.pems = make_certificates(directory)
        self.env = env or {}
        if options:
            (directory / "options.json").write_text(json.dumps(options))
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> "EchoServer":
        (self.directory / "port").unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.echo", str(self.directory)],
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, **self.env},
            preexec_fn=raise_fd_limit,
        )
        deadline = time.monotonic() + 30
        while not (self.directory / "port").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the echo server did not start within 30 s")
            time.sleep(0.05)
        ports = (self.directory / "port").read_text().split()
        self.port, self.plain_port = int(ports[0]), int(ports[1])
        return self

    def rss_bytes(self) -> int:
        assert self.process is not None
        return psutil.Process(self.process.pid).memory_info().rss

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _channel(pems: dict, port: int, tls: bool = True) -> grpc.aio.Channel:
    options = [("grpc.use_local_subchannel_pool", 1)]
    if not tls:
        return grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options)
    credentials = grpc.ssl_channel_credentials(
        pems["ca"], pems["client_key"], pems["client_cert"]
    )
    return grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials, options=options)


async def _echo_load(pems: dict, port: int, streams: int, duration: float) -> dict:
    channel = _channel(pems, port)
    call_factory = channel.stream_stream(METHOD)
    counts = [0] * streams

    async def loop(index: int) -> None:
        call = call_factory()
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            await call.write(PAYLOAD)
            await call.read()
            counts[index] += 1
        await call.done_writing()

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(streams)))
    elapsed = time.perf_counter() - started
    await channel.close()
    return {"round_trips": sum(counts), "elapsed": elapsed}


async def _hold(
    pems: dict,
    port: int,
    count: int,
    hold: float,
    open_concurrency: int = 64,
    tls: bool = True,
) -> dict:
    """Open `count` connections with one open stream each; count those alive.

    At most `open_concurrency` connections are being opened at a time.
    """
    channels = [_channel(pems, port, tls) for _ in range(count)]
    calls = []
    failures: list[str] = []
    semaphore = asyncio.Semaphore(open_concurrency)

    async def open_one(channel) -> None:
        async with semaphore:
            call = channel.stream_stream(METHOD)()
            try:
                await call.write(PAYLOAD)
                await asyncio.wait_for(call.read(), 60)
                calls.append(call)
            except (grpc.aio.AioRpcError, TimeoutError) as error:
                failures.append(str(error)[:200])

    started = time.perf_counter()
    await asyncio.gather(*(open_one(c) for c in channels))
    ramp = time.perf_counter() - started
    await asyncio.sleep(hold)
    alive = 0
    for call in calls:
        try:
            await call.write(PAYLOAD)
            await asyncio.wait_for(call.read(), 30)
            alive += 1
        except (grpc.aio.AioRpcError, TimeoutError) as error:
            failures.append(str(error)[:200])
    await asyncio.gather(*(c.close() for c in channels))
    return {
        "opened": len(calls),
        "alive": alive,
        "ramp": ramp,
        "failures": failures[:3],
    }


def _worker(kind: str, args: tuple, results) -> None:
    raise_fd_limit()
    function = _echo_load if kind == "load" else _hold
    results.put(asyncio.run(function(*args)))


def _run_workers(
    kind: str, jobs: list[tuple], timeout: float, sample=None
) -> list[dict]:
    """Run one worker process per job; call `sample()` every 0.5 s meanwhile."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(kind, job, results), daemon=True)
        for job in jobs
    ]
    for process in workers:
        process.start()
    reports = []
    deadline = time.monotonic() + timeout
    while len(reports) < len(workers):
        if sample is not None:
            sample()
        try:
            reports.append(results.get(timeout=0.5))
        except queue.Empty:
            if time.monotonic() > deadline:
                for process in workers:
                    process.kill()
                raise RuntimeError(f"echo {kind} workers did not report") from None
    for process in workers:
        process.join(timeout=30)
    return reports


def echo_rate(server: EchoServer, streams: int, processes: int, duration: float):
    """Round trips per second of `streams` closed-loop echo streams."""
    processes = max(1, min(processes, streams))
    jobs = [
        (server.pems, server.port, len(range(i, streams, processes)), duration)
        for i in range(processes)
    ]
    reports = _run_workers("load", jobs, duration + 120)
    round_trips = sum(r["round_trips"] for r in reports)
    elapsed = max(r["elapsed"] for r in reports)
    return {
        "streams": streams,
        "processes": processes,
        "round_trips_per_second": round(round_trips / elapsed, 1),
        "messages_per_second": round(2 * round_trips / elapsed, 1),
    }


def hold_connections(
    server: EchoServer,
    count: int,
    processes: int,
    open_concurrency: int = 64,
    tls: bool = True,
) -> dict:
    """Hold `count` idle echo streams, one connection each, from `processes`."""
    port = server.port if tls else server.plain_port
    jobs = [
        (
            server.pems,
            port,
            len(range(i, count, processes)),
            10.0,
            open_concurrency,
            tls,
        )
        for i in range(processes)
    ]
    rss_before = server.rss_bytes()
    peak = [rss_before]

    def sample() -> None:
        peak[0] = max(peak[0], server.rss_bytes())

    reports = _run_workers("hold", jobs, 600, sample)
    alive = sum(r["alive"] for r in reports)
    per_connection = (peak[0] - rss_before) / alive / 1024 if alive else None
    return {
        "requested": count,
        "client_processes": processes,
        "open_concurrency": open_concurrency,
        "tls": tls,
        "opened": sum(r["opened"] for r in reports),
        "alive_after_hold": alive,
        "ramp_seconds": round(max(r["ramp"] for r in reports), 2),
        "failure_samples": [f for r in reports for f in r["failures"]][:3],
        "server_rss_before_mb": round(rss_before / 2**20, 1),
        "server_rss_peak_mb": round(peak[0] / 2**20, 1),
        "server_rss_per_connection_kb": (
            round(per_connection, 2) if per_connection else None
        ),
    }


def ceiling(
    params,
    streams: int,
    hold: int,
    hold_processes: int = 4,
    open_concurrency: int = 64,
    hold_tls: bool = True,
) -> dict:
    """Echo round trips and dispatch tasks per second, alternating per run."""
    from bench.scenarios import DispatchBed, new_root

    root = new_root("ceiling")
    server = EchoServer(root / "echo").start()
    runs = []
    held = None
    try:
        with DispatchBed(params, "ceiling-dispatch") as bed:
            for _ in range(params.runs):
                load = load_average()
                echo = echo_rate(server, streams, params.callers, params.duration)
                dispatch = bed.callers("grpc")
                tasks = dispatch["tasks_per_second"]
                runs.append(
                    {
                        "load_average": load,
                        "echo": echo,
                        "dispatch": dispatch,
                        "task_fraction_of_echo_round_trips": ratio(
                            tasks, echo["round_trips_per_second"]
                        ),
                        "message_fraction_of_echo": ratio(
                            tasks * MESSAGES_PER_TASK, echo["messages_per_second"]
                        ),
                    }
                )
        if hold:
            held = hold_connections(
                server, hold, hold_processes, open_concurrency, hold_tls
            )
    finally:
        server.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return {
        "parameters": {**vars(params), "streams": streams, "profiler": None},
        "messages_per_task": MESSAGES_PER_TASK,
        "runs": runs,
        "held_connections": held,
        "median": {
            key: median_of(runs, key)
            for key in (
                "echo.round_trips_per_second",
                "dispatch.tasks_per_second",
                "task_fraction_of_echo_round_trips",
                "message_fraction_of_echo",
            )
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="run the bench echo server")
    parser.add_argument("directory", type=Path, help="directory with the PEM files")
    asyncio.run(serve(parser.parse_args().directory))
