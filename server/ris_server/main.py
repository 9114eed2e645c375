"""`ris-server`: run the hub."""

import argparse
import asyncio
import logging
import os
import signal
import sys

from ris_server import __version__, tls_policy
from ris_server.app import HubServer
from ris_server.config import ConfigError, load_config
from ris_server.keyring import KeyringError
from ris_server.logs import setup_logging

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ris-server",
        description="Run the RIS hub: gRPC API, agent channel, REST edge and "
        "metrics. With no configuration it keeps everything in ./data.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--data-dir", help="data directory (default ./data)")
    parser.add_argument("--host", help="address to bind (default 0.0.0.0)")
    parser.add_argument("--public-host", help="host name agents use to reach the hub")
    parser.add_argument("--grpc-port", type=int, help="gRPC API port (default 50051)")
    parser.add_argument(
        "--agent-port", type=int, help="agent stream port (default 50052)"
    )
    parser.add_argument("--edge-port", type=int, help="REST edge port (default 8057)")
    parser.add_argument("--metrics-port", type=int, help="metrics port (default 9090)")
    parser.add_argument(
        "--no-edge", action="store_true", help="do not serve the REST edge"
    )
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    pairs = {
        ("server", "data_dir"): args.data_dir,
        ("server", "host"): args.host,
        ("server", "public_host"): args.public_host,
        ("server", "grpc_port"): args.grpc_port,
        ("server", "agent_port"): args.agent_port,
        ("server", "port"): args.edge_port,
        ("monitoring", "metrics", "port"): args.metrics_port,
        ("server", "edge_enabled"): False if args.no_edge else None,
    }
    return {key: value for key, value in pairs.items() if value is not None}


async def _serve(server: HubServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    await stop.wait()
    await server.stop(grace=server.config.performance.get("shutdown_grace", 5.0))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(overrides=_overrides(args))
    except ConfigError as exc:
        print(f"ris-server: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.logging.level, config.logging.format)
    suites = tls_policy.check_cipher_suites(
        config.server.tls.cipher_suites, "server.tls.cipher_suites"
    )
    if tls_policy.cipher_suites_pending(suites):
        # gRPC reads its cipher list once, when imported, so the process
        # starts again with the list in its environment.
        os.environ[tls_policy.CIPHER_ENV] = suites
        arguments = sys.argv[1:] if argv is None else argv
        os.execv(sys.executable, [sys.executable, "-m", "ris_server.main", *arguments])
    try:
        asyncio.run(_serve(HubServer(config)))
    except ConfigError as exc:
        print(f"ris-server: {exc}", file=sys.stderr)
        return 2
    except (OSError, KeyringError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
