"""Machine facts, file-descriptor limits, statistics and result files."""

import datetime
import json
import os
import platform
import resource
import statistics
from importlib import metadata
from pathlib import Path

import psutil

RESULTS_DIR = Path(__file__).parent / "results"


def raise_fd_limit() -> int:
    """Raise this process's open-file soft limit to its hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1_048_576)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_facts() -> dict:
    """Cores, memory, Python and library versions, date and load average."""
    load = os.getloadavg()
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "memory_mb": psutil.virtual_memory().total // (1024 * 1024),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "grpcio": _version("grpcio"),
        "protobuf": _version("protobuf"),
        "load_average_at_start": [round(value, 2) for value in load],
        "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of `values` (fraction 0..1); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: list[float]) -> dict:
    """Count, p50, p99 and max of latencies given in seconds, in milliseconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 0.50)),
        "p99_ms": ms(percentile(seconds, 0.99)),
        "max_ms": ms(max(seconds) if seconds else None),
    }


def median_of(runs: list[dict], path: str) -> float | None:
    """Median of the number at dotted `path` over runs that have it."""
    values = []
    for run in runs:
        value: object = run
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            values.append(float(value))
    return round(statistics.median(values), 3) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def write_result(scenario: str, result: dict, out_dir: Path | None = None) -> Path:
    """Write one run's JSON under bench/results/ (or `out_dir`); return the path."""
    directory = out_dir or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{scenario}-{stamp}.json"
    result = {"scenario": scenario, **result}
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    return path
