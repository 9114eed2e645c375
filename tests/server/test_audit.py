"""The hash-chained audit log, its verify command and what the hub records."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ris.v1 import client_pb2, task_pb2
from ris_server import rbac
from ris_server.audit import AuditLog, verify_lines
from tests.server.test_api import add_client, add_user, http_spec, rpc_error
from tests.support import ADMIN_PASSWORD


def write_log(path: Path, count: int) -> AuditLog:
    audit = AuditLog(path)
    for number in range(count):
        audit.record("task_execution", "submit", actor="u1", target=f"task-{number}")
    return audit


def test_intact_chain_verifies(tmp_path):
    path = tmp_path / "audit.log"
    write_log(path, 5)
    result = verify_lines(path.read_text().splitlines())
    assert result.ok
    assert result.entries == 5


def test_reopened_log_continues_chain(tmp_path):
    path = tmp_path / "audit.log"
    write_log(path, 2)
    write_log(path, 2)
    assert verify_lines(path.read_text().splitlines()).entries == 4


def test_edited_line_breaks_chain_at_that_line(tmp_path):
    path = tmp_path / "audit.log"
    write_log(path, 5)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["actor"] = "someone-else"
    lines[2] = json.dumps(entry, sort_keys=True)
    result = verify_lines(lines)
    assert not result.ok
    assert result.bad_line == 3
    assert result.entries == 2


@pytest.mark.parametrize(
    ("change", "bad_line"),
    [
        (lambda lines: lines[:1] + lines[2:], 2),
        (lambda lines: [lines[1], lines[0], *lines[2:]], 1),
        (lambda lines: [*lines[:3], "{not json", *lines[3:]], 4),
    ],
)
def test_removed_reordered_or_foreign_lines_detected(tmp_path, change, bad_line):
    path = tmp_path / "audit.log"
    write_log(path, 5)
    result = verify_lines(change(path.read_text().splitlines()))
    assert result.bad_line == bad_line


def test_disabled_kinds_are_not_written(tmp_path):
    audit = AuditLog(tmp_path / "audit.log", events=("authentication",))
    audit.record("task_execution", "submit")
    audit.record("authentication", "login")
    lines = (tmp_path / "audit.log").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["authentication"]


def test_verify_command_exit_codes(tmp_path):
    path = tmp_path / "audit.log"
    write_log(path, 4)
    command = [sys.executable, "-m", "ris_server.audit", "verify", str(path)]
    intact = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert intact.returncode == 0
    assert "4 entries, chain intact" in intact.stdout
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"u1"', '"u2"')
    path.write_text("\n".join(lines) + "\n")
    broken = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert broken.returncode == 1
    assert "chain broken at line 2" in broken.stdout
    missing = subprocess.run(
        [*command[:-1], str(tmp_path / "absent.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert missing.returncode == 2


async def test_hub_records_security_and_task_events(api, hub_server):
    await rpc_error(api.login("admin", "wrong-password"))
    await api.login()
    client = await add_client(api)
    task = (
        await api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id, task=http_spec(), run_async=True
            ),
            metadata=api.metadata,
        )
    ).task
    await api.tasks.CancelTask(
        task_pb2.CancelTaskRequest(task_id=task.task_id), metadata=api.metadata
    )
    await add_user(hub_server, "default", "viewer", rbac.READONLY)
    await api.login("viewer", "pw-viewer")
    await rpc_error(
        api.clients.DeleteClient(
            client_pb2.DeleteClientRequest(id=client.id), metadata=api.metadata
        )
    )

    path = hub_server.config.data_dir / "audit.log"
    text = path.read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    actions = [(e["kind"], e["action"], e["outcome"]) for e in entries]
    assert ("authentication", "login", "failure") in actions
    assert ("authentication", "login", "success") in actions
    assert ("client_management", "add_client", "success") in actions
    assert ("task_execution", "submit", "success") in actions
    assert ("task_execution", "cancel", "success") in actions
    assert ("authorization", "denied", "failure") in actions
    denied = next(e for e in entries if e["action"] == "denied")
    assert denied["target"] == "/ris.v1.ClientService/DeleteClient"
    assert verify_lines(text.splitlines()).ok
    assert ADMIN_PASSWORD not in text
    assert "wrong-password" not in text
