"""Audit files: rotation at a size limit and retention by age and count."""

import json
import os
import subprocess
import sys

from ris_server.audit import AuditLog, Retention, rotated_files, verify_chain

DAY = 86400.0


class Clock:
    """A settable clock, one second per read."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 1
        return self.now


def fill(audit: AuditLog, count: int) -> None:
    for number in range(count):
        audit.record("task_execution", "submit", actor="u1", target=f"task-{number}")


def test_rotation_keeps_one_chain(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(path, retention=Retention(max_bytes=2000), clock=Clock())

    fill(audit, 40)
    report = verify_chain(path)

    assert len(rotated_files(path)) >= 3
    assert report.ok
    assert report.entries == 40


def test_backup_count_limit(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(
        path, retention=Retention(max_bytes=2000, max_backups=2), clock=Clock()
    )

    fill(audit, 60)
    entries = [
        json.loads(line)
        for candidate in [*rotated_files(path), path]
        for line in candidate.read_text().splitlines()
    ]
    retention_entries = [e for e in entries if e["action"] == "retention"]

    assert len(rotated_files(path)) == 2
    assert retention_entries
    assert verify_chain(path).ok


def test_old_files_removed_at_start(tmp_path):
    path = tmp_path / "audit.log"
    clock = Clock()
    audit = AuditLog(path, retention=Retention(max_bytes=2000), clock=clock)
    fill(audit, 30)
    oldest = rotated_files(path)[0]
    stale = clock.now - 100 * DAY
    os.utime(oldest, (stale, stale))

    AuditLog(path, retention=Retention(max_bytes=2000, max_age_days=90), clock=clock)

    assert not oldest.exists()
    assert verify_chain(path).ok


def test_hand_deleted_file_detected(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(path, retention=Retention(max_bytes=2000), clock=Clock())
    fill(audit, 30)

    rotated_files(path)[0].unlink()
    report = verify_chain(path)

    assert not report.ok
    assert "no retention removed" in report.reason


def test_edit_in_rotated_file_located(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(path, retention=Retention(max_bytes=2000), clock=Clock())
    fill(audit, 30)
    second = rotated_files(path)[1]
    lines = second.read_text().splitlines()
    lines[2] = lines[2].replace('"u1"', '"u9"')
    second.write_text("\n".join(lines) + "\n")

    report = verify_chain(path)

    assert report.bad_file == second
    assert report.bad_line == 3


def test_verify_command_reads_rotated_files(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(path, retention=Retention(max_bytes=2000), clock=Clock())
    fill(audit, 30)
    command = [sys.executable, "-m", "ris_server.audit", "verify", str(path)]

    intact = subprocess.run(command, capture_output=True, text=True, timeout=30)
    rotated_files(path)[0].unlink()
    broken = subprocess.run(command, capture_output=True, text=True, timeout=30)

    assert intact.returncode == 0
    assert "30 entries, chain intact" in intact.stdout
    assert broken.returncode == 1


async def test_hub_applies_configured_limits(hub_factory):
    server = await hub_factory(
        audit_log={"max_size": "8KB", "max_backups": 3},
        security={"audit": {"retention_days": 30}},
    )
    audit = server.hub.audit

    assert audit.retention.max_bytes == 8000
    assert audit.retention.max_backups == 3
    assert audit.retention.max_age_days == 30


def test_age_limit_applies_between_rotations(tmp_path):
    path = tmp_path / "audit.log"
    clock = Clock()
    audit = AuditLog(path, retention=Retention(max_bytes=2000), clock=clock)
    fill(audit, 30)
    oldest = rotated_files(path)[0]
    stale = clock.now - 100 * DAY
    os.utime(oldest, (stale, stale))

    clock.now += 2 * 3600
    audit.record("authentication", "login", actor="u1")

    assert not oldest.exists()
    assert verify_chain(path).ok


def test_many_rotations_in_one_second(tmp_path):
    path = tmp_path / "audit.log"

    class FrozenClock:
        def __call__(self) -> float:
            return 1_800_000_000.0

    audit = AuditLog(
        path, retention=Retention(max_bytes=4096, max_backups=3), clock=FrozenClock()
    )
    fill(audit, 200)
    names = [candidate.name for candidate in rotated_files(path)]

    assert len(names) == 3
    assert names == sorted(names, key=lambda name: int(name.split("-")[-1][:-4]))
    assert verify_chain(path).ok
