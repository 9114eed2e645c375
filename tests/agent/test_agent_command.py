"""Command executor with real subprocesses."""

import asyncio
import os
import pwd
import sys
import time

import psutil
import pytest
from agent_test_support import wait_until

from ris.v1 import task_pb2
from ris_agent.command_executor import execute_command
from ris_agent.execution import ExecutionContext

COMPLETED = task_pb2.TASK_STATUS_COMPLETED
FAILED = task_pb2.TASK_STATUS_FAILED
TIMEOUT = task_pb2.TASK_STATUS_TIMEOUT
CANCELLED = task_pb2.TASK_STATUS_CANCELLED


def _context(
    timeout: float = 10, limit: int = 64 * 1024, allow_privileged: bool = False
) -> ExecutionContext:
    return ExecutionContext(
        task_id="task-1",
        attempt=1,
        timeout=timeout,
        max_output_bytes=limit,
        allow_privileged=allow_privileged,
        cancel_event=asyncio.Event(),
    )


def _spec(command: str, *args: str, **fields) -> task_pb2.TaskSpec:
    return task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_COMMAND,
        command=task_pb2.CommandTask(command=command, args=list(args), **fields),
    )


def _gone(pid: int) -> bool:
    """Return whether a process ended; zombies count, as init may not reap them."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_command_args_env_and_working_dir(tmp_path):
    script = (
        "import os, sys; print(sys.argv[1:]); print(os.environ['GREETING']); "
        "print(os.getcwd())"
    )
    spec = _spec(
        sys.executable,
        "-c",
        script,
        "two words",
        "$HOME",
        working_dir=str(tmp_path),
        environment={"GREETING": "hello agent"},
    )

    outcome = await execute_command(spec, _context())

    assert outcome.status == COMPLETED
    output = outcome.result.command_output
    assert output.exit_code == 0
    lines = output.stdout.splitlines()
    assert lines[0] == "['two words', '$HOME']"
    assert lines[1] == "hello agent"
    assert lines[2] == str(tmp_path)
    assert outcome.result.error == ""


async def test_command_keeps_agent_environment(monkeypatch):
    monkeypatch.setenv("AGENT_SIDE_VARIABLE", "from-agent")
    spec = _spec(
        "sh", "-c", 'echo "$AGENT_SIDE_VARIABLE $EXTRA"', environment={"EXTRA": "x"}
    )

    outcome = await execute_command(spec, _context())

    assert outcome.result.command_output.stdout == "from-agent x\n"


async def test_command_nonzero_exit_fails():
    spec = _spec("sh", "-c", "echo partial; echo oops >&2; exit 3")

    outcome = await execute_command(spec, _context())

    assert outcome.status == FAILED
    output = outcome.result.command_output
    assert output.exit_code == 3
    assert output.stdout == "partial\n"
    assert output.stderr == "oops\n"
    assert "exited with code 3" in outcome.result.error


async def test_command_killed_by_signal_reports_negative_code():
    outcome = await execute_command(_spec("sh", "-c", "kill -9 $$"), _context())

    assert outcome.status == FAILED
    assert outcome.result.command_output.exit_code == -9


async def test_command_output_truncated_without_blocking():
    script = (
        "import sys; sys.stdout.write('o' * 300000); sys.stderr.write('e' * 300000)"
    )
    started = time.monotonic()

    outcome = await execute_command(
        _spec(sys.executable, "-c", script), _context(limit=1000)
    )

    assert outcome.status == COMPLETED
    output = outcome.result.command_output
    assert output.stdout == "o" * 1000
    assert output.stderr == "e" * 1000
    assert output.stdout_truncated
    assert output.stderr_truncated
    assert time.monotonic() - started < 5


async def test_command_short_output_not_truncated():
    outcome = await execute_command(_spec("echo", "hi"), _context(limit=1000))

    assert outcome.result.command_output.stdout == "hi\n"
    assert not outcome.result.command_output.stdout_truncated
    assert not outcome.result.command_output.stderr_truncated


async def test_command_timeout_kills_grandchild():
    spec = _spec("sh", "-c", "sleep 30 & echo $$ $!; sleep 30", timeout=1)
    started = time.monotonic()

    outcome = await execute_command(spec, _context(timeout=60))

    elapsed = time.monotonic() - started
    assert outcome.status == TIMEOUT
    assert "timed out after 1 s" in outcome.result.error
    assert outcome.result.command_output.exit_code == -15
    assert elapsed < 5
    shell_pid, background_pid = map(int, outcome.result.command_output.stdout.split())
    assert _gone(shell_pid)
    await wait_until(lambda: _gone(background_pid), 3, "background sleep to end")


async def test_command_uses_assignment_timeout():
    outcome = await execute_command(_spec("sleep", "30"), _context(timeout=0.5))

    assert outcome.status == TIMEOUT


async def test_command_exit_kills_leftovers():
    spec = _spec("sh", "-c", "sleep 30 & echo $!")
    started = time.monotonic()

    outcome = await execute_command(spec, _context())

    assert outcome.status == COMPLETED
    assert time.monotonic() - started < 5
    background_pid = int(outcome.result.command_output.stdout)
    await wait_until(lambda: _gone(background_pid), 3, "leftover sleep to end")


async def test_command_cancellation_kills_process_group():
    context = _context()
    spec = _spec("sh", "-c", "sleep 30 & echo $$ $!; sleep 30")
    execution = asyncio.create_task(execute_command(spec, context))
    await asyncio.sleep(0.3)

    context.cancel_event.set()
    outcome = await asyncio.wait_for(execution, 5)

    assert outcome.status == CANCELLED
    shell_pid, background_pid = map(int, outcome.result.command_output.stdout.split())
    assert _gone(shell_pid)
    await wait_until(lambda: _gone(background_pid), 3, "background sleep to end")


async def test_command_privileged_rejected_by_default():
    outcome = await execute_command(_spec("true", privileged=True), _context())

    assert outcome.status == FAILED
    assert "--allow-privileged" in outcome.result.error
    assert not outcome.result.HasField("command_output")


async def test_command_privileged_allowed_with_flag():
    spec = _spec("true", privileged=True)

    outcome = await execute_command(spec, _context(allow_privileged=True))

    assert outcome.status == COMPLETED


async def test_command_missing_program_fails():
    outcome = await execute_command(_spec("no-such-program-ris-test"), _context())

    assert outcome.status == FAILED
    assert "'no-such-program-ris-test' not found in PATH" in outcome.result.error


async def test_command_missing_program_path_fails(tmp_path):
    missing = str(tmp_path / "missing-binary")

    outcome = await execute_command(_spec(missing), _context())

    assert outcome.status == FAILED
    assert f"program not found: {missing}" in outcome.result.error


async def test_command_not_executable_fails(tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)

    outcome = await execute_command(_spec(str(script)), _context())

    assert outcome.status == FAILED
    assert "Permission denied" in outcome.result.error


async def test_command_bad_working_dir_fails(tmp_path):
    missing = tmp_path / "missing-dir"

    outcome = await execute_command(_spec("true", working_dir=str(missing)), _context())

    assert outcome.status == FAILED
    assert f"working directory not found: {missing}" in outcome.result.error


async def test_command_invalid_environment_name_fails():
    outcome = await execute_command(_spec("true", environment={"A=B": "1"}), _context())

    assert outcome.status == FAILED
    assert "invalid environment variable name" in outcome.result.error


@pytest.mark.skipif(os.geteuid() == 0, reason="needs an agent that is not root")
async def test_command_run_as_user_needs_root():
    outcome = await execute_command(_spec("id", run_as_user="nobody"), _context())

    assert outcome.status == FAILED
    assert "requires the agent to run as root" in outcome.result.error


@pytest.mark.skipif(os.geteuid() != 0, reason="needs an agent running as root")
async def test_command_run_as_user_switches_identity():
    nobody = pwd.getpwnam("nobody")

    outcome = await execute_command(_spec("id"), _context())
    as_nobody = await execute_command(_spec("id", run_as_user="nobody"), _context())

    assert "uid=0(" in outcome.result.command_output.stdout
    assert as_nobody.status == COMPLETED
    stdout = as_nobody.result.command_output.stdout
    assert f"uid={nobody.pw_uid}(" in stdout
    assert f"gid={nobody.pw_gid}(" in stdout
    assert "(root)" not in stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs an agent running as root")
async def test_command_run_as_unknown_user_fails():
    outcome = await execute_command(
        _spec("id", run_as_user="no-such-user-ris"), _context()
    )

    assert outcome.status == FAILED
    assert "'no-such-user-ris' not found" in outcome.result.error


async def test_command_detached_child_not_awaited():
    spec = _spec("sh", "-c", "setsid sleep 30 & echo $!")
    started = time.monotonic()

    outcome = await execute_command(spec, _context())

    detached_pid = int(outcome.result.command_output.stdout)
    os.kill(detached_pid, 9)  # it left the process group, so the agent leaves it alone
    assert outcome.status == COMPLETED
    assert time.monotonic() - started < 5
