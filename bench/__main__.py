"""Command line of the benchmark harness: `python -m bench SCENARIO [options]`."""

import argparse
import json
import shlex
import sys
from pathlib import Path

from bench import scenarios
from bench.machine import machine_facts, raise_fd_limit, write_result

SCENARIOS = ("connections", "dispatch", "edge", "enroll", "ceiling", "peers")


def duration(text: str) -> float:
    """Parse '30s', '500ms', '2m' or a bare number of seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for suffix in ("ms", "s", "m"):
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            break
    else:
        number, suffix = text, "s"
    try:
        value = float(number) * units[suffix]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: expected a number with ms, s or m"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive, got {text!r}")
    return value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Benchmarks of the RIS hub; each run writes bench/results/*.json.",
    )
    parser.add_argument("--out", type=Path, help="result directory (bench/results)")
    parser.add_argument(
        "--runs",
        type=positive,
        default=3,
        help="runs per figure; the medians are reported",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the hub with py-spy into this file: .svg flame graph or .txt "
        "collapsed stacks (connections, dispatch); each hub start overwrites it, "
        "so it holds the last run",
    )
    sub = parser.add_subparsers(dest="scenario", required=True)

    conn = _scenario_parser(sub, "connections", help="hold N agents with heartbeats")
    conn.add_argument(
        "--agents", type=positive, default=10_000, help="simulated agents"
    )
    conn.add_argument(
        "--heartbeat", type=duration, default=30.0, help="heartbeat interval, e.g. 30s"
    )
    conn.add_argument(
        "--hold",
        type=duration,
        help="steady-state time after the ramp; None means 2 heartbeats + 5 s",
    )
    conn.add_argument(
        "--workers", type=positive, default=4, help="agent worker processes"
    )
    conn.add_argument(
        "--enroll-mode",
        choices=("ca", "rpc"),
        default="ca",
        help="ca: sign with the hub CA files; rpc: Enroll with tokens",
    )

    for name, text in (
        ("dispatch", "no-op tasks over gRPC: saturation and half of it"),
        ("edge", "the same through the REST edge, as ratios to gRPC"),
        ("ceiling", "bare grpc.aio echo vs dispatch in the same run"),
    ):
        scenario = _scenario_parser(sub, name, help=text)
        _dispatch_options(scenario)
        if name == "ceiling":
            scenario.add_argument(
                "--streams", type=positive, default=100, help="echo streams"
            )
            scenario.add_argument(
                "--hold-connections",
                type=int,
                default=0,
                help="also hold this many idle echo connections (0: skip)",
            )
            scenario.add_argument(
                "--hold-processes",
                type=positive,
                default=4,
                help="client processes that hold the idle echo connections",
            )
            scenario.add_argument(
                "--hold-plaintext",
                action="store_true",
                help="hold the idle echo connections without TLS",
            )
            scenario.add_argument(
                "--hold-open-concurrency",
                type=positive,
                default=64,
                help="connections each holding process opens at a time",
            )

    enroll = _scenario_parser(sub, "enroll", help="enrollments per second")
    enroll.add_argument(
        "--enrollments", type=positive, default=500, help="enrollments per run"
    )
    enroll.add_argument(
        "--processes", type=positive, default=2, help="caller processes"
    )
    enroll.add_argument(
        "--concurrency", type=positive, default=16, help="calls in flight per process"
    )

    peers = _scenario_parser(
        sub, "peers", help="the same no-op job via Celery and Salt"
    )
    _dispatch_options(peers)
    peers.add_argument("--only", choices=("celery", "salt"), help="one peer only")
    peers.add_argument(
        "--redis-db", type=int, default=13, help="empty Redis database to use"
    )
    peers.add_argument(
        "--minions", type=positive, default=4, help="salt-minion processes"
    )

    everything = _scenario_parser(sub, "all", help="every scenario with its defaults")
    everything.add_argument(
        "--agents", type=positive, default=10_000, help="agents of connections"
    )
    return parser


def _scenario_parser(sub, name: str, help: str) -> argparse.ArgumentParser:
    """Add a scenario whose --help shows every default."""
    return sub.add_parser(
        name, help=help, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )


def _dispatch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=positive, default=100, help="simulated agents")
    parser.add_argument("--slots", type=positive, default=8, help="slots per agent")
    parser.add_argument("--callers", type=positive, default=4, help="caller processes")
    parser.add_argument(
        "--concurrency", type=positive, default=16, help="calls in flight per process"
    )
    parser.add_argument("--duration", type=duration, default=20.0, help="per phase")


def _dispatch_params(args, profiler) -> scenarios.DispatchParams:
    return scenarios.DispatchParams(
        agents=args.agents,
        slots=args.slots,
        callers=args.callers,
        concurrency=args.concurrency,
        duration=args.duration,
        runs=args.runs,
        profiler=profiler,
    )


def _profiler(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    from bench.venvs import tool_path

    # A .txt path gets collapsed stacks (one line per stack and its count),
    # which can be sorted and compared; any other path an SVG flame graph.
    form = "raw" if path.suffix == ".txt" else "flamegraph"
    return [
        str(tool_path("py-spy")),
        "record",
        "--rate",
        "200",
        "--format",
        form,
        "-o",
        str(path),
        "--",
    ]


def run_scenario(name: str, args) -> dict:
    profiler = _profiler(args.profile)
    if name == "connections":
        params = scenarios.ConnectionsParams(
            agents=args.agents,
            heartbeat=args.heartbeat,
            hold=getattr(args, "hold", None) or 0.0,
            workers=getattr(args, "workers", 4),
            enroll_mode=getattr(args, "enroll_mode", "ca"),
            runs=args.runs,
            profiler=profiler,
        )
        return scenarios.connections(params)
    if name == "dispatch":
        return scenarios.dispatch(_dispatch_params(args, profiler))
    if name == "edge":
        return scenarios.edge(_dispatch_params(args, None))
    if name == "enroll":
        params = scenarios.EnrollParams(
            enrollments=args.enrollments,
            processes=args.processes,
            concurrency=args.concurrency,
            runs=args.runs,
        )
        return scenarios.enroll(params)
    if name == "ceiling":
        from bench import echo

        return echo.ceiling(
            _dispatch_params(args, None),
            args.streams,
            args.hold_connections,
            hold_processes=args.hold_processes,
            open_concurrency=args.hold_open_concurrency,
            hold_tls=not args.hold_plaintext,
        )
    if name == "peers":
        from bench import peers

        return peers.peers(
            _dispatch_params(args, None),
            only=args.only,
            redis_db=args.redis_db,
            minions=args.minions,
        )
    raise ValueError(f"unknown scenario {name!r}")


def _defaults_for(name: str, args) -> argparse.Namespace:
    """Parse `name` with its defaults, keeping the global options of `args`."""
    extra = []
    if name == "connections":
        extra = ["--agents", str(args.agents)]
    elif name == "ceiling":
        # The echo server holds as many idle connections as the hub held agents.
        extra = ["--hold-connections", str(args.agents)]
    parsed = build_parser().parse_args([name, *extra])
    parsed.runs, parsed.out, parsed.profile = args.runs, args.out, None
    return parsed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    raise_fd_limit()
    names = SCENARIOS if args.scenario == "all" else (args.scenario,)
    for name in names:
        scenario_args = _defaults_for(name, args) if args.scenario == "all" else args
        facts = machine_facts()
        result = run_scenario(name, scenario_args)
        record = {
            "command": shlex.join(["python", "-m", "bench", *argv]),
            "machine": facts,
            **result,
        }
        path = write_result(name, record, args.out)
        print(f"{name}: {path}")
        print(json.dumps(record.get("median", {}), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
