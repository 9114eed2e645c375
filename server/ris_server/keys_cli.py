"""`ris-keys`: list data keys, re-encrypt rows, rotate the master key."""

import argparse
import asyncio
import datetime
import logging
import sys

from ris_server import bootstrap
from ris_server.config import ConfigError, HubConfig, load_config
from ris_server.keyring import KeyringError
from ris_server.logs import setup_logging
from ris_server.store import control_database_path, open_store

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ris-keys",
        description="Manage the keys of encryption at rest. Reads the same "
        "configuration as ris-server (CONFIG_PATH and the environment).",
    )
    # --data-dir is accepted before or after the command name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="data directory (default ./data)",
    )
    parser.add_argument("--data-dir", help="data directory (default ./data)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "list", parents=[common], help="list the data keys of every tenant"
    )
    reencrypt = commands.add_parser(
        "reencrypt",
        parents=[common],
        help="rewrite encrypted rows under each tenant's newest data key; safe "
        "while the hub runs",
    )
    reencrypt.add_argument(
        "--new-keys",
        action="store_true",
        help="first create a new data key for every tenant",
    )
    commands.add_parser(
        "rotate-master",
        parents=[common],
        help="rewrap every data key under a new master key; stop the hub first",
    )
    return parser


def _created(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat(timespec="seconds")


async def _run(command: str, config: HubConfig, new_keys: bool) -> None:
    db_path = control_database_path(config)
    if not db_path.is_file():
        raise KeyringError(f"database {db_path} not found; check --data-dir")
    store = await open_store(config)
    try:
        if command == "rotate-master":
            count = await bootstrap.rotate_master_key(store, config)
            print(f"rewrapped {count} data keys under a new master key")
            return
        _keyring, lock = await bootstrap.open_keyring(store, config)
        try:
            if command == "list":
                _print_keys(await store.list_data_keys())
            else:
                counts = await store.reencrypt(new_keys=new_keys)
                print(
                    f"re-encrypted {counts['tasks']} task rows and "
                    f"{counts['tenants']} tenant rows"
                )
        finally:
            lock.release()
    finally:
        await store.close()


def _print_keys(records) -> None:
    newest: dict[str, str] = {}
    for record in records:
        newest[record.tenant_code] = record.key_id
    print(f"{'KEY ID':32}  {'TENANT':20}  {'CREATED (UTC)':25}  NEWEST")
    for record in records:
        mark = "yes" if newest[record.tenant_code] == record.key_id else ""
        print(
            f"{record.key_id:32}  {record.tenant_code:20}  "
            f"{_created(record.created_at):25}  {mark}"
        )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {("server", "data_dir"): args.data_dir} if args.data_dir else {}
    try:
        config = load_config(overrides=overrides)
    except ConfigError as exc:
        print(f"ris-keys: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.logging.level, config.logging.format)
    try:
        asyncio.run(_run(args.command, config, getattr(args, "new_keys", False)))
    except ConfigError as exc:
        print(f"ris-keys: {exc}", file=sys.stderr)
        return 2
    except KeyringError as exc:
        print(f"ris-keys: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
