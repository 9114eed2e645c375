"""Tamper-evident audit log: JSON lines, each chained to the previous by hash.

Every entry carries `prev`, the hash of the entry before it (64 zeros for the
first), and `hash`, the SHA-256 of its own canonical JSON without `hash`.
Editing, removing or reordering a line breaks the chain at that line, which
`ris-audit verify FILE` reports. Entries never contain secrets: callers pass
ids and names only.
"""

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GENESIS = "0" * 64
EVENT_KINDS = ("authentication", "authorization", "task_execution", "client_management")


def entry_hash(entry: dict) -> str:
    """Return the SHA-256 of an entry's canonical JSON, `hash` excluded."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Verification:
    """Result of checking a log: the entries read and the first bad line."""

    entries: int
    bad_line: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.bad_line is None


def verify_lines(lines) -> Verification:
    """Check the chain of an iterable of text lines, numbered from 1."""
    previous = GENESIS
    count = 0
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            return Verification(count, number, "not valid JSON")
        if not isinstance(entry, dict):
            return Verification(count, number, "not a JSON object")
        if entry.get("prev") != previous:
            return Verification(count, number, "prev does not match the line before")
        if entry.get("hash") != entry_hash(entry):
            return Verification(count, number, "hash does not match the entry")
        previous = entry["hash"]
        count += 1
    return Verification(count)


class AuditLog:
    """Writer of chained entries to one file, safe to call from any thread.

    Only the event kinds in `events` are written, and others are dropped.
    """

    def __init__(self, path: Path, events: tuple[str, ...] = EVENT_KINDS) -> None:
        self.path = path
        self.events = frozenset(events)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._previous = self._last_hash()

    def _last_hash(self) -> str:
        if not self.path.exists():
            return GENESIS
        last = GENESIS
        with self.path.open() as handle:
            for line in handle:
                if line.strip():
                    last = json.loads(line).get("hash", GENESIS)
        return last

    def record(
        self,
        kind: str,
        action: str,
        *,
        actor: str = "",
        tenant: str = "",
        target: str = "",
        outcome: str = "success",
        **details: str | int | bool,
    ) -> None:
        """Append one entry of an event kind, unless that kind is not enabled."""
        if kind not in self.events:
            return
        with self._lock:
            entry = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "kind": kind,
                "action": action,
                "actor": actor,
                "tenant": tenant,
                "target": target,
                "outcome": outcome,
                "details": details,
                "prev": self._previous,
            }
            entry["hash"] = entry_hash(entry)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as handle:
                handle.write(json.dumps(entry, sort_keys=True) + "\n")
            self._previous = entry["hash"]


def main(argv: list[str] | None = None) -> int:
    """`ris-audit verify FILE`: exit 0 when the chain holds, 1 at the first bad line."""
    parser = argparse.ArgumentParser(
        prog="ris-audit", description="Check the hash chain of a RIS audit log."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="verify every line of an audit log")
    verify.add_argument("file", type=Path, help="audit log, e.g. DATA/audit.log")
    args = parser.parse_args(argv)
    try:
        with args.file.open() as handle:
            result = verify_lines(handle)
    except OSError as exc:
        print(f"ris-audit: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    if result.ok:
        print(f"{args.file}: {result.entries} entries, chain intact")
        return 0
    print(
        f"{args.file}: chain broken at line {result.bad_line}: {result.reason} "
        f"({result.entries} entries before it are intact)"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
