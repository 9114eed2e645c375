"""Smoke runs of every bench scenario: a few agents and tasks, seconds long.

They check that the harness produces complete, consistent results against
a real hub process, never how fast anything is.
"""

import json
from pathlib import Path

import pytest

from bench import venvs
from bench.__main__ import duration, main


def run_bench(tmp_path: Path, *argv: str) -> dict:
    out = tmp_path / "results"
    assert main(["--runs", "1", "--out", str(out), *argv]) == 0
    files = sorted(out.glob(f"{argv[0]}-*.json"))
    assert len(files) == 1
    result = json.loads(files[0].read_text())
    assert result["scenario"] == argv[0]
    assert result["command"].startswith("python -m bench --runs 1")
    machine = result["machine"]
    assert machine["cores"] >= 1
    assert machine["memory_mb"] > 0
    assert machine["grpcio"][0].isdigit()
    assert len(machine["load_average_at_start"]) == 3
    assert len(result["runs"]) == 1
    assert all("load_average" in run for run in result["runs"])
    return result


def test_connections_smoke(tmp_path):
    result = run_bench(
        tmp_path,
        "connections",
        *("--agents", "6", "--heartbeat", "1s", "--hold", "2.5s", "--workers", "2"),
    )
    run = result["runs"][0]
    assert run["connected"] == 6
    assert run["failed"] == 0
    assert run["held"] == 6
    assert run["stream_errors"] == 0
    assert run["heartbeat_ack"]["count"] >= 6
    assert run["heartbeat_ack"]["p50_ms"] <= run["heartbeat_ack"]["p99_ms"]
    assert run["connect_latency"]["count"] == 6
    assert run["hub_rss_held_mb"] > 0
    assert run["hub_open_files"] > 6
    assert result["median"]["held"] == 6


def test_connections_enroll_rpc_mode(tmp_path):
    result = run_bench(
        tmp_path,
        "connections",
        *("--agents", "3", "--heartbeat", "1s", "--hold", "1.5s"),
        *("--workers", "1", "--enroll-mode", "rpc"),
    )
    assert "Enroll RPC" in result["certificates"]
    assert result["runs"][0]["held"] == 3


def _check_calls(phase: dict) -> None:
    assert phase["completed"] > 0
    assert phase["not_completed"] == 0, phase["error_samples"]
    assert phase["tasks_per_second"] > 0
    latency = phase["latency"]
    assert latency["count"] == phase["completed"]
    assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]


DISPATCH_ARGS = (
    *("--agents", "4", "--slots", "2", "--callers", "2"),
    *("--concurrency", "2", "--duration", "2s"),
)


def test_dispatch_smoke(tmp_path):
    result = run_bench(tmp_path, "dispatch", *DISPATCH_ARGS)
    run = result["runs"][0]
    _check_calls(run["saturation"])
    _check_calls(run["half"])
    assert run["half"]["offered_rate"] == pytest.approx(
        run["saturation"]["tasks_per_second"] / 2
    )
    assert result["median"]["saturation.tasks_per_second"] > 0


def test_edge_smoke(tmp_path):
    result = run_bench(tmp_path, "edge", *DISPATCH_ARGS)
    run = result["runs"][0]
    for phase in ("grpc_saturation", "rest_saturation", "grpc_half", "rest_half"):
        _check_calls(run[phase])
    assert run["rest_saturation"]["transport"] == "rest"
    assert run["throughput_ratio"] > 0
    assert run["latency_p99_ratio"] > 0


def test_enroll_smoke(tmp_path):
    result = run_bench(tmp_path, "enroll", "--enrollments", "6", "--processes", "2")
    run = result["runs"][0]
    assert run["enrolled"] == 6
    assert run["failed"] == 0, run["failure_samples"]
    assert run["enrollments_per_second"] > 0
    assert run["latency"]["count"] == 6


def test_ceiling_smoke(tmp_path):
    result = run_bench(
        tmp_path,
        "ceiling",
        *DISPATCH_ARGS,
        *("--streams", "4", "--hold-connections", "20"),
    )
    run = result["runs"][0]
    assert run["echo"]["round_trips_per_second"] > 0
    assert run["echo"]["messages_per_second"] == pytest.approx(
        2 * run["echo"]["round_trips_per_second"], rel=0.01
    )
    _check_calls(run["dispatch"])
    assert run["task_fraction_of_echo_round_trips"] > 0
    held = result["held_connections"]
    assert held["opened"] == 20
    assert held["alive_after_hold"] == 20


def test_ceiling_plaintext_hold(tmp_path):
    result = run_bench(
        tmp_path,
        "ceiling",
        *DISPATCH_ARGS,
        *("--streams", "2", "--hold-connections", "10", "--hold-plaintext"),
    )
    held = result["held_connections"]
    assert held["tls"] is False
    assert held["alive_after_hold"] == 10
    assert held["server_rss_peak_mb"] >= held["server_rss_before_mb"]


@pytest.mark.skipif(
    not (venvs.is_ready("celery") and venvs.is_ready("salt")),
    reason="the peer venvs are not installed; create them with "
    "`python -m bench.venvs celery salt`",
)
def test_peers_smoke(tmp_path):
    result = run_bench(
        tmp_path, "peers", *DISPATCH_ARGS, "--minions", "2", "--redis-db", "14"
    )
    assert result["unavailable"] == {}
    run = result["runs"][0]
    _check_calls(run["hub_saturation"])
    for peer in ("celery", "salt"):
        assert run[peer]["saturation"]["completed"] > 0
        assert run[peer]["saturation"]["failed"] == 0
        assert run[peer]["saturation_ratios"]["throughput_ratio"] > 0


def test_duration_parsing():
    assert duration("30s") == 30.0
    assert duration("500ms") == 0.5
    assert duration("2m") == 120.0
    assert duration("7") == 7.0
    for bad in ("soon", "-1s", "0"):
        with pytest.raises(Exception, match="duration"):
            duration(bad)
