"""The same no-op job through Celery (Redis broker) and Salt, next to the hub.

Each peer runs from its own virtual environment under build/bench-venvs,
created from PyPI on first use. Every run measures the hub, then each peer,
at saturation and at half of the peer's own saturation rate, and reports
ratios hub / peer: above 1 for throughput and below 1 for latency mean the
hub is ahead.
"""

import getpass
import json
import shutil
import subprocess
import time
from pathlib import Path

from bench import venvs
from bench.machine import latency_summary, load_average, median_of, ratio
from bench.scenarios import DispatchBed, new_root

DRIVERS = Path(__file__).resolve().parent / "peer_drivers"
START_TIMEOUT = 120.0


class PeerUnavailable(RuntimeError):
    """A peer could not be installed or started; the message names what failed."""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _drive(python: Path, script: str, args: list[str], processes: int) -> dict:
    """Run a driver in `processes` processes; merge their JSON reports."""
    command = [str(python), str(DRIVERS / script), *args]
    running = [
        subprocess.Popen(
            command, cwd=DRIVERS, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(processes)
    ]
    reports = []
    for process in running:
        out, err = process.communicate(timeout=600)
        if process.returncode != 0:
            raise PeerUnavailable(
                f"{script} exited with code {process.returncode}: "
                f"{err.decode(errors='replace')[-2000:]}"
            )
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    latencies = [x for r in reports for x in r["latencies"]]
    elapsed = max(r["elapsed"] for r in reports)
    return {
        "completed": len(latencies),
        "failed": sum(r["failed"] for r in reports),
        "failure_samples": [s for r in reports for s in r["failure_samples"]][:5],
        "jobs_per_second": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "latency": latency_summary(latencies),
    }


class CeleryPeer:
    """Celery workers with Redis as broker and result backend."""

    name = "celery"

    def __init__(self, root: Path, redis_db: int, workers: int = 2) -> None:
        self.root = root
        self.url = f"redis://127.0.0.1:6379/{redis_db}"
        self.redis_db = redis_db
        self.workers = workers
        self.processes: list[subprocess.Popen] = []
        self.python: Path | None = None

    def _redis(self, action: str) -> int:
        code = (
            "import redis,sys;"
            f"r=redis.Redis(host='127.0.0.1',port=6379,db={self.redis_db});"
            + ("print(r.dbsize())" if action == "size" else "r.flushdb();print(0)")
        )
        done = subprocess.run(
            [str(self.python), "-c", code], capture_output=True, text=True, timeout=30
        )
        if done.returncode != 0:
            raise PeerUnavailable(f"Redis at 127.0.0.1:6379 failed: {done.stderr}")
        return int(done.stdout.strip())

    def start(self) -> None:
        self.python = venvs.ensure("celery")
        if self._redis("size"):
            raise PeerUnavailable(
                f"Redis database {self.redis_db} is not empty; pick an unused one "
                "with --redis-db"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "bench_celery_app.py").write_text(
            "from celery import Celery\n"
            f"app = Celery('bench', broker={self.url!r}, backend={self.url!r})\n"
            "app.conf.update(broker_connection_retry_on_startup=True,\n"
            "                worker_prefetch_multiplier=4, result_expires=600)\n"
            "@app.task(name='bench.noop')\n"
            "def noop():\n"
            "    return 'ok'\n"
        )
        celery = self.python.parent / "celery"
        for index in range(self.workers):
            log = (self.root / f"worker-{index}.log").open("ab")
            self.processes.append(
                subprocess.Popen(
                    [
                        str(celery),
                        "-A",
                        "bench_celery_app",
                        "worker",
                        "-P",
                        "threads",
                        "-c",
                        "8",
                        "-n",
                        f"bench{index}@127.0.0.1",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "-l",
                        "warning",
                    ],
                    cwd=self.root,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def run(self, processes: int, threads: int, duration: float, rate: float) -> dict:
        args = [str(self.root), str(threads), str(duration), str(rate / processes)]
        return _drive(self.python, "celery_driver.py", args, processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.python is not None:
            self._redis("flush")


class SaltPeer:
    """A salt-master and salt-minions on 127.0.0.1 with their own dirs."""

    name = "salt"

    def __init__(self, root: Path, minions: int) -> None:
        self.root = root
        self.minion_ids = [f"bench-minion-{i}" for i in range(minions)]
        self.processes: list[subprocess.Popen] = []
        self.python: Path | None = None
        self.master_config = root / "master" / "master"

    def _write_configs(self) -> None:
        publish_port, ret_port = _free_port(), _free_port()
        user = getpass.getuser()
        master = self.root / "master"
        for sub in ("pki", "cache", "sock", "srv"):
            (master / sub).mkdir(parents=True, exist_ok=True)
        self.master_config.write_text(
            json.dumps(
                {
                    "interface": "127.0.0.1",
                    "publish_port": publish_port,
                    "ret_port": ret_port,
                    "user": user,
                    "auto_accept": True,
                    "root_dir": str(master),
                    "pki_dir": str(master / "pki"),
                    "cachedir": str(master / "cache"),
                    "sock_dir": str(master / "sock"),
                    "pidfile": str(master / "master.pid"),
                    "log_file": str(master / "master.log"),
                    "file_roots": {"base": [str(master / "srv")]},
                    "worker_threads": 4,
                }
            )
        )
        for minion_id in self.minion_ids:
            directory = self.root / minion_id
            for sub in ("pki", "cache", "sock"):
                (directory / sub).mkdir(parents=True, exist_ok=True)
            (directory / "minion").write_text(
                json.dumps(
                    {
                        "id": minion_id,
                        "master": "127.0.0.1",
                        "master_port": ret_port,
                        "publish_port": publish_port,
                        "user": user,
                        "root_dir": str(directory),
                        "pki_dir": str(directory / "pki"),
                        "cachedir": str(directory / "cache"),
                        "sock_dir": str(directory / "sock"),
                        "pidfile": str(directory / "minion.pid"),
                        "log_file": str(directory / "minion.log"),
                        "multiprocessing": False,
                    }
                )
            )

    def start(self) -> None:
        self.python = venvs.ensure("salt")
        bin_dir = self.python.parent
        self._write_configs()
        self.processes.append(
            subprocess.Popen(
                [str(bin_dir / "salt-master"), "-c", str(self.master_config.parent)],
                stdout=subprocess.DEVNULL,
                stderr=(self.root / "master.err").open("ab"),
            )
        )
        time.sleep(3)
        for minion_id in self.minion_ids:
            self.processes.append(
                subprocess.Popen(
                    [str(bin_dir / "salt-minion"), "-c", str(self.root / minion_id)],
                    stdout=subprocess.DEVNULL,
                    stderr=(self.root / f"{minion_id}.err").open("ab"),
                )
            )
        self._wait_ready(bin_dir)

    def _wait_ready(self, bin_dir: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        answered: dict = {}
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    errors = "".join(
                        path.read_text(errors="replace")[-1500:]
                        for path in sorted(self.root.glob("*.err"))
                    )
                    raise PeerUnavailable(
                        f"{process.args[0]} exited with code {process.returncode}: "
                        f"{errors}"
                    )
            done = subprocess.run(
                [
                    str(bin_dir / "salt"),
                    "-c",
                    str(self.master_config.parent),
                    "--out",
                    "json",
                    "--static",
                    "-t",
                    "5",
                    "*",
                    "test.ping",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            try:
                answered = json.loads(done.stdout or "{}")
            except json.JSONDecodeError:
                answered = {}
            if all(answered.get(m) is True for m in self.minion_ids):
                return
            time.sleep(1)
        raise PeerUnavailable(
            f"Salt minions returned no test.ping result within {START_TIMEOUT:.0f} s; "
            f"answered: {sorted(answered)}"
        )

    def run(self, processes: int, threads: int, duration: float, rate: float) -> dict:
        args = [
            str(self.master_config),
            str(threads),
            str(duration),
            str(rate / processes),
            *self.minion_ids,
        ]
        return _drive(self.python, "salt_driver.py", args, processes)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _compare(hub: dict, peer: dict) -> dict:
    return {
        "throughput_ratio": ratio(hub["tasks_per_second"], peer["jobs_per_second"]),
        "latency_p50_ratio": ratio(hub["latency"]["p50_ms"], peer["latency"]["p50_ms"]),
        "latency_p99_ratio": ratio(hub["latency"]["p99_ms"], peer["latency"]["p99_ms"]),
    }


def peers(params, only: str | None, redis_db: int, minions: int) -> dict:
    """Run hub, Celery and Salt in each run; a peer that fails is reported."""
    root = new_root("peers")
    chosen = [only] if only else ["celery", "salt"]
    available = {}
    unavailable = {}
    for name in chosen:
        peer = (
            CeleryPeer(root / "celery", redis_db)
            if name == "celery"
            else SaltPeer(root / "salt", minions)
        )
        try:
            peer.start()
            available[name] = peer
        except (PeerUnavailable, venvs.VenvError, OSError) as error:
            peer.stop()
            unavailable[name] = str(error)[-3000:]
    runs = []
    try:
        with DispatchBed(params, "peers-hub") as bed:
            for _ in range(params.runs):
                run: dict = {"load_average": load_average()}
                hub_max = bed.callers("grpc")
                run["hub_saturation"] = hub_max
                for name, peer in available.items():
                    processes, threads = params.callers, params.concurrency
                    peer_max = peer.run(processes, threads, params.duration, 0.0)
                    rate = peer_max["jobs_per_second"] / 2
                    hub_half = bed.callers("grpc", rate=rate)
                    peer_half = peer.run(processes, threads, params.duration, rate)
                    run[name] = {
                        "saturation": peer_max,
                        "half": peer_half,
                        "hub_at_same_rate": hub_half,
                        "saturation_ratios": _compare(hub_max, peer_max),
                        "half_rate_ratios": _compare(hub_half, peer_half),
                    }
                runs.append(run)
    finally:
        for peer in available.values():
            peer.stop()
        shutil.rmtree(root, ignore_errors=True)
    keys = ["hub_saturation.tasks_per_second"]
    for name in available:
        keys += [
            f"{name}.saturation.jobs_per_second",
            f"{name}.saturation.latency.p50_ms",
            f"{name}.half.latency.p99_ms",
            f"{name}.saturation_ratios.throughput_ratio",
            f"{name}.half_rate_ratios.latency_p50_ratio",
            f"{name}.half_rate_ratios.latency_p99_ratio",
        ]
    return {
        "parameters": {**vars(params), "redis_db": redis_db, "minions": minions},
        "peer_versions": {n: venvs.REQUIREMENTS[n] for n in chosen},
        "unavailable": unavailable,
        "runs": runs,
        "median": {key: median_of(runs, key) for key in keys},
    }
