"""Command line of the agent: ``ris-agent enroll`` and ``ris-agent run``.

Exit codes: 0 on success or after SIGTERM/SIGINT, 1 on a failure, 2 on bad usage.
"""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ris_agent import __version__
from ris_agent.agent import (
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_SHUTDOWN_GRACE_SECONDS,
    AgentSettings,
    run_until_signal,
)
from ris_agent.endpoints import parse_host_port
from ris_agent.enroll import (
    DEFAULT_ENROLL_TIMEOUT_SECONDS,
    TOKEN_ENV,
    EnrollmentError,
    EnrollOptions,
    enroll,
)
from ris_agent.host import default_hostname
from ris_agent.logs import LOG_FORMATS, LOG_LEVELS, configure_logging
from ris_agent.renewal import DEFAULT_RENEW_FRACTION, recover_pending_renewal
from ris_agent.state import (
    DATA_DIR_ENV,
    DataDir,
    StateError,
    load_state,
    resolve_data_dir,
)

logger = logging.getLogger(__name__)

_MAX_CONCURRENT_LIMIT = 1000  # the hub accepts 1 to 1000


def _host_port(value: str) -> str:
    try:
        return parse_host_port(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _bounded_int(minimum: int, maximum: int | None = None):
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number {value!r}") from None
        if number < minimum or (maximum is not None and number > maximum):
            upper = f" to {maximum}" if maximum is not None else " or more"
            raise argparse.ArgumentTypeError(
                f"{number} is out of range: {minimum}{upper}"
            )
        return number

    return parse


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return number


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {value!r}") from None
    if not 0 <= number <= 0.9:
        raise argparse.ArgumentTypeError(f"{value} is out of range: 0 to 0.9")
    return number


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"agent data directory (default: ${DATA_DIR_ENV} or ./agent-data)",
    )
    common.add_argument(
        "--log-format", choices=LOG_FORMATS, default="text", help="log format on stderr"
    )
    common.add_argument(
        "--log-level", choices=LOG_LEVELS, default="INFO", help="lowest level logged"
    )
    return common


def _add_enroll_parser(commands, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "enroll",
        parents=[common],
        help="enroll this host with a one-time token",
        description="Generate a key, send a CSR with the enrollment token to the "
        "hub and store the certificate and settings in the data directory.",
    )
    parser.add_argument(
        "--hub",
        required=True,
        type=_host_port,
        metavar="HOST:PORT",
        help="address of the hub's API port, where Enroll is served",
    )
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"one-time enrollment token; prefer ${TOKEN_ENV}, which ps does not show",
    )
    parser.add_argument(
        "--ca-file",
        required=True,
        metavar="PATH",
        help="PEM CA certificate that verifies the hub's API port",
    )
    parser.add_argument(
        "--hostname",
        metavar="NAME",
        help="host name to register (default: this host's name)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_ENROLL_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="seconds to wait for the hub (default: %(default)s)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="enroll again although the data directory is already enrolled",
    )
    parser.set_defaults(handler=enroll_command)


def _add_run_parser(commands, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "run",
        parents=[common],
        help="connect to the hub and run tasks until SIGTERM or SIGINT",
    )
    parser.add_argument(
        "--max-concurrent",
        type=_bounded_int(1, _MAX_CONCURRENT_LIMIT),
        default=DEFAULT_MAX_CONCURRENT,
        metavar="N",
        help="tasks run at once, 1 to 1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--allow-privileged",
        action="store_true",
        help="run command tasks marked privileged instead of rejecting them",
    )
    parser.add_argument(
        "--max-output-bytes",
        type=_bounded_int(1),
        default=DEFAULT_MAX_OUTPUT_BYTES,
        metavar="BYTES",
        help="limit for each of stdout, stderr and an HTTP body, in bytes "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--hub-agent-endpoint",
        type=_host_port,
        metavar="HOST:PORT",
        help="address of the hub's agent port, instead of the one from enrollment",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=_positive_float,
        default=DEFAULT_SHUTDOWN_GRACE_SECONDS,
        metavar="SECONDS",
        help="seconds running tasks get to finish after SIGTERM (default: %(default)s)",
    )
    parser.add_argument(
        "--renew-fraction",
        type=_fraction,
        default=DEFAULT_RENEW_FRACTION,
        metavar="F",
        help="renew the certificate when less than this fraction of its lifetime "
        "is left, 0 to 0.9; 0 turns renewal off (default: 1/3)",
    )
    parser.set_defaults(handler=run_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ris-agent", description="Reference agent of the RIS hub."
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    common = _common_options()
    _add_enroll_parser(commands, common)
    _add_run_parser(commands, common)
    return parser


def _fail(message: str, exit_code: int) -> int:
    print(f"ris-agent: error: {message}", file=sys.stderr)
    return exit_code


def enroll_command(args: argparse.Namespace) -> int:
    """Enroll and print where the identity was stored; never prints the token."""
    options = EnrollOptions(
        hub=args.hub,
        token=(args.token or os.environ.get(TOKEN_ENV, "")).strip(),
        ca_file=Path(args.ca_file).expanduser(),
        data_dir=DataDir(resolve_data_dir(args.data_dir)),
        hostname=args.hostname or default_hostname(),
        timeout=args.timeout,
        force=args.force,
    )
    try:
        state = asyncio.run(enroll(options))
    except EnrollmentError as error:
        return _fail(str(error), error.exit_code)
    print(
        f"enrolled as client {state.unique_client_id} of tenant {state.tenant_code}; "
        f"identity stored in {options.data_dir.root}"
    )
    return 0


def _warn_if_expired(expires_at: str) -> None:
    if not expires_at:
        return
    try:
        expiry = datetime.fromisoformat(expires_at)
    except ValueError:
        logger.warning("ignoring invalid certificate_expires_at %r", expires_at)
        return
    if expiry <= datetime.now(UTC):
        logger.error("the agent certificate expired at %s; enroll again", expires_at)


def run_command(args: argparse.Namespace) -> int:
    """Load the enrollment state and run the agent until a stop signal."""
    data_dir = DataDir(resolve_data_dir(args.data_dir))
    try:
        state = load_state(data_dir)
    except StateError as error:
        logger.error("%s", error)
        return 1
    endpoint = args.hub_agent_endpoint or state.agent_endpoint
    if not endpoint:
        logger.error(
            "no hub agent endpoint: the hub sent none at enrollment; "
            "pass --hub-agent-endpoint HOST:PORT"
        )
        return 1
    _warn_if_expired(state.certificate_expires_at)

    settings = AgentSettings(
        data_dir=data_dir,
        endpoint=endpoint,
        hostname=state.hostname or default_hostname(),
        max_concurrent=args.max_concurrent,
        allow_privileged=args.allow_privileged,
        max_output_bytes=args.max_output_bytes,
        heartbeat_interval=float(state.heartbeat_interval or 30),
        reconnect_policy=state.reconnect_policy,
        shutdown_grace=args.shutdown_grace,
        unique_client_id=state.unique_client_id,
        tenant_code=state.tenant_code,
        renew_fraction=args.renew_fraction,
    )
    try:
        recover_pending_renewal(data_dir)
    except OSError as error:
        logger.error("cannot finish an interrupted certificate renewal: %s", error)
        return 1
    try:
        return asyncio.run(run_until_signal(settings))
    except OSError as error:  # for example an outbox directory that cannot be created
        logger.error("cannot run the agent: %s", error)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ris-agent command line; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # usage errors (2), --help and --version (0)
        return int(exit_request.code or 0)
    configure_logging(args.log_level, args.log_format)
    return args.handler(args)
