"""Tamper-evident audit log: JSON lines, each chained to the previous by hash.

Every entry carries `prev`, the hash of the entry before it (64 zeros for the
first), and `hash`, the SHA-256 of its own canonical JSON without `hash`.
Editing, removing or reordering a line breaks the chain at that line, which
`ris-audit verify FILE` reports. Entries never contain secrets: callers pass
ids and names only.

A file that reaches its size limit is renamed to `STEM-YYYYmmddTHHMMSSZ.SUFFIX`
and the chain goes on in a new file. Rotated files past the retention period,
or beyond the number of backups kept, are deleted; a `retention` entry then
records the hash the remaining history starts from, so verification accepts
that start instead of the first entry's genesis hash.
"""

import argparse
import hashlib
import json
import os
import re
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


def verify_lines(lines, start: str | None = GENESIS) -> Verification:
    """Check the chain of an iterable of text lines, numbered from 1.

    `start` is the `prev` the first entry must carry; None accepts any start,
    for a log whose oldest files were removed by retention.
    """
    previous = start
    count = 0
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            return Verification(count, number, "not valid JSON")
        if not isinstance(entry, dict):
            return Verification(count, number, "not a JSON object")
        if previous is not None and entry.get("prev") != previous:
            return Verification(count, number, "prev does not match the line before")
        if entry.get("hash") != entry_hash(entry):
            return Verification(count, number, "hash does not match the entry")
        previous = entry["hash"]
        count += 1
    return Verification(count)


@dataclass(frozen=True, slots=True)
class Retention:
    """Limits of the audit files: rotation size, backups kept and their age."""

    max_bytes: int = 100_000_000
    max_backups: int = 30
    max_age_days: int = 90


def rotated_files(path: Path) -> list[Path]:
    """Return the rotated files of a log, oldest first.

    Files rotated within one second carry a sequence number after the time,
    so the order is by time, then by that number as an integer.
    """
    prefix = len(path.stem) + 1
    rotated = []
    for candidate in path.parent.glob(f"{path.stem}-*{path.suffix}"):
        match = _ROTATED.match(candidate.name[prefix:])
        if match:
            rotated.append((match.group(1), int(match.group(2) or 0), candidate))
    return [candidate for _, _, candidate in sorted(rotated)]


# Rotated files age out between rotations too, checked at most this often.
AGE_CHECK_INTERVAL = 3600.0

_ROTATED = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d+))?\.")


class AuditLog:
    """Writer of chained entries to one file, safe to call from any thread.

    Only the event kinds in `events` are written, and others are dropped.
    The file rotates at `retention.max_bytes`, and old rotated files are
    deleted under the retention limits.
    """

    def __init__(
        self,
        path: Path,
        events: tuple[str, ...] = EVENT_KINDS,
        retention: Retention | None = None,
        clock=time.time,
    ) -> None:
        self.path = path
        self.events = frozenset(events)
        self.retention = retention or Retention()
        self._clock = clock
        self._lock = threading.Lock()
        # Kept open between entries; closed before a rotation renames it.
        self._fd: int | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._previous = self._last_hash()
        with self._lock:
            self._apply_retention()

    def _last_hash(self) -> str:
        for candidate in [self.path, *reversed(rotated_files(self.path))]:
            if candidate.exists() and candidate.stat().st_size:
                return _last_entry_hash(candidate)
        return GENESIS

    def record(
        self,
        kind: str,
        action: str,
        *,
        actor: str = "",
        tenant: str = "",
        target: str = "",
        outcome: str = "success",
        **details: str | int | bool | list,
    ) -> None:
        """Append one entry of an event kind, unless that kind is not enabled."""
        if kind not in self.events:
            return
        with self._lock:
            self._append(kind, action, actor, tenant, target, outcome, details)
            if self.path.stat().st_size >= self.retention.max_bytes:
                self._rotate()
                self._apply_retention()
            elif self._clock() >= self._next_age_check:
                self._apply_retention()

    def _append(self, kind, action, actor, tenant, target, outcome, details) -> None:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock())),
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
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self._fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
        self._previous = entry["hash"]

    def close(self) -> None:
        """Close the file; the next entry opens it again."""
        with self._lock:
            self._close_file()

    def _close_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _rotate(self) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
        same_second = [
            int(match.group(2) or 0)
            for candidate in rotated_files(self.path)
            if (match := _ROTATED.match(candidate.name[len(self.path.stem) + 1 :]))
            and match.group(1) == stamp
        ]
        # A later rotation in the same second always gets a higher number,
        # even after retention deleted the earlier files of that second.
        suffix = f"-{max(same_second) + 1}" if same_second else ""
        name = f"{self.path.stem}-{stamp}{suffix}{self.path.suffix}"
        self._close_file()
        os.replace(self.path, self.path.with_name(name))

    def _apply_retention(self) -> None:
        """Delete rotated files past the age or count limit, oldest first."""
        self._next_age_check = self._clock() + AGE_CHECK_INTERVAL
        files = rotated_files(self.path)
        cutoff = self._clock() - self.retention.max_age_days * 86400
        expired = [f for f in files if f.stat().st_mtime < cutoff]
        keep = files[len(expired) :]
        excess = max(0, len(keep) - self.retention.max_backups)
        removed = files[: len(expired) + excess]
        if not removed:
            return
        remaining = files[len(removed) :] + [self.path]
        retained_from = self._previous
        for candidate in remaining:
            if candidate.exists() and candidate.stat().st_size:
                retained_from = _first_prev(candidate)
                break
        for candidate in removed:
            candidate.unlink()
        # The chain records where the kept history starts, so that a reader
        # can tell deleted old files from a truncated log.
        self._append(
            "audit",
            "retention",
            "",
            "",
            "",
            "success",
            {"removed": [f.name for f in removed], "retained_from": retained_from},
        )


def _last_entry_hash(path: Path) -> str:
    last = GENESIS
    with path.open() as handle:
        for line in handle:
            if line.strip():
                last = json.loads(line).get("hash", GENESIS)
    return last


def _first_prev(path: Path) -> str:
    with path.open() as handle:
        for line in handle:
            if line.strip():
                return json.loads(line).get("prev", GENESIS)
    return GENESIS


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of checking a log and its rotated files, in order."""

    entries: int
    bad_file: Path | None = None
    bad_line: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.bad_file is None


def verify_chain(path: Path) -> ChainReport:
    """Check a log together with its rotated files, oldest first.

    The oldest file may start after the genesis hash only when a later
    `retention` entry names that start.
    """
    files = [f for f in [*rotated_files(path), path] if f.exists()]
    start = _first_prev(files[0]) if files else GENESIS
    previous: str | None = GENESIS if start == GENESIS else None
    total = 0
    retained_from: set[str] = set()
    for candidate in files:
        with candidate.open() as handle:
            lines = [line for line in handle if line.strip()]
        result = verify_lines(lines, previous)
        total += result.entries
        if not result.ok:
            return ChainReport(total, candidate, result.bad_line, result.reason)
        for line in lines:
            entry = json.loads(line)
            if entry.get("kind") == "audit" and entry.get("action") == "retention":
                retained_from.add(entry["details"].get("retained_from", ""))
        if lines:
            previous = json.loads(lines[-1])["hash"]
    if start != GENESIS and start not in retained_from:
        return ChainReport(
            total, files[0], 1, "the log starts after entries that no retention removed"
        )
    return ChainReport(total)


def main(argv: list[str] | None = None) -> int:
    """`ris-audit verify FILE`: exit 0 when the chain holds, 1 when it breaks."""
    parser = argparse.ArgumentParser(
        prog="ris-audit", description="Check the hash chain of a RIS audit log."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify", help="verify every line of an audit log and its rotated files"
    )
    verify.add_argument("file", type=Path, help="audit log, e.g. DATA/audit.log")
    args = parser.parse_args(argv)
    if not args.file.exists() and not rotated_files(args.file):
        print(f"ris-audit: {args.file}: file not found", file=sys.stderr)
        return 2
    try:
        result = verify_chain(args.file)
    except OSError as exc:
        print(f"ris-audit: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    if result.ok:
        print(f"{args.file}: {result.entries} entries, chain intact")
        return 0
    print(
        f"{result.bad_file}: chain broken at line {result.bad_line}: "
        f"{result.reason} ({result.entries} entries before it are intact)"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
