"""Executor of COMMAND tasks: a program run without a shell."""

import logging
import os
import pwd
import shutil
import time

from ris.v1 import task_pb2
from ris_agent.execution import ExecutionContext, Outcome, effective_timeout, failed
from ris_agent.output import decode_output
from ris_agent.process import ProcessResult, ProcessUser, run_process

logger = logging.getLogger(__name__)

CAPABILITY = "command"


class CommandRejected(Exception):
    """The task cannot run on this agent; the message gives the cause and the fix."""


def resolve_user(name: str) -> tuple[ProcessUser, pwd.struct_passwd]:
    """Look up a user for run_as_user. Raises CommandRejected if it cannot be used."""
    if os.geteuid() != 0:
        raise CommandRejected(
            f"run_as_user {name!r} requires the agent to run as root; "
            "run the task without run_as_user or run the agent as root"
        )
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise CommandRejected(f"run_as_user {name!r} not found on this host") from None
    groups = tuple(os.getgrouplist(name, entry.pw_gid))
    return ProcessUser(name=name, gid=entry.pw_gid, groups=groups), entry


def build_environment(
    base: dict[str, str],
    extra: dict[str, str],
    user_entry: pwd.struct_passwd | None,
) -> dict[str, str]:
    """Return the agent's environment plus the task's variables.

    For run_as_user, HOME, USER and LOGNAME describe that user unless the task sets
    them. Raises CommandRejected for a name that contains "=" or NUL, or a value
    that contains NUL.
    """
    environment = dict(base)
    if user_entry is not None:
        environment["HOME"] = user_entry.pw_dir
        environment["USER"] = user_entry.pw_name
        environment["LOGNAME"] = user_entry.pw_name
    for name, value in extra.items():
        if not name or "=" in name or "\0" in name:
            raise CommandRejected(f"invalid environment variable name {name!r}")
        if "\0" in value:
            raise CommandRejected(f"environment variable {name!r} contains NUL")
        environment[name] = value
    return environment


def _check_program(command: str, environment: dict[str, str], cwd: str | None) -> None:
    if not command:
        raise CommandRejected("command is empty")
    if "\0" in command:
        raise CommandRejected("command contains NUL")
    if "/" in command:
        program = (
            command if os.path.isabs(command) else os.path.join(cwd or ".", command)
        )
        if not os.path.isfile(program):
            raise CommandRejected(f"program not found: {command}")
        return
    if shutil.which(command, path=environment.get("PATH", os.defpath)) is None:
        raise CommandRejected(f"program {command!r} not found in PATH")


def _check_working_dir(working_dir: str) -> str | None:
    if not working_dir:
        return None
    if not os.path.isdir(working_dir):
        raise CommandRejected(f"working directory not found: {working_dir}")
    return working_dir


def _prepare(
    task: task_pb2.CommandTask, context: ExecutionContext
) -> tuple[ProcessUser | None, dict[str, str], str | None]:
    if task.privileged and not context.allow_privileged:
        raise CommandRejected(
            "privileged command tasks are rejected by this agent; "
            "start it with --allow-privileged to run them"
        )
    user = user_entry = None
    if task.run_as_user:
        user, user_entry = resolve_user(task.run_as_user)
    environment = build_environment(
        dict(os.environ), dict(task.environment), user_entry
    )
    cwd = _check_working_dir(task.working_dir)
    _check_program(task.command, environment, cwd)
    if any("\0" in argument for argument in task.args):
        raise CommandRejected("an argument contains NUL")
    return user, environment, cwd


def _to_outcome(result: ProcessResult, timeout: float, limit: int) -> Outcome:
    stdout, stdout_truncated = decode_output(
        result.stdout.data, result.stdout.truncated, limit
    )
    stderr, stderr_truncated = decode_output(
        result.stderr.data, result.stderr.truncated, limit
    )
    output = task_pb2.CommandOutput(
        exit_code=result.exit_code,
        stdout=stdout,
        stderr=stderr,
        stdout_truncated=stdout_truncated,
        stderr_truncated=stderr_truncated,
    )
    if result.cancelled:
        status, error = (
            task_pb2.TASK_STATUS_CANCELLED,
            "cancelled; process group killed",
        )
    elif result.timed_out:
        status = task_pb2.TASK_STATUS_TIMEOUT
        error = f"timed out after {timeout:g} s; process group killed"
    elif result.exit_code != 0:
        status = task_pb2.TASK_STATUS_FAILED
        error = f"command exited with code {result.exit_code}"
    else:
        status, error = task_pb2.TASK_STATUS_COMPLETED, ""
    return Outcome(status, task_pb2.TaskResult(command_output=output, error=error))


async def execute_command(
    spec: task_pb2.TaskSpec, context: ExecutionContext
) -> Outcome:
    """Run ``command`` with ``args`` as an argument vector, never through a shell.

    Status: COMPLETED for exit code 0, FAILED for another exit code or a task that
    cannot start (privileged without --allow-privileged, run_as_user without root
    or unknown, missing program or working directory), TIMEOUT or CANCELLED after
    killing the process group.
    """
    task = spec.command
    try:
        user, environment, cwd = _prepare(task, context)
    except CommandRejected as error:
        logger.warning("rejected command task %s: %s", context.task_id, error)
        return failed(str(error))

    timeout = effective_timeout(task.timeout, context)
    started = time.monotonic()
    try:
        result = await run_process(
            [task.command, *task.args],
            timeout=timeout,
            cancel_event=context.cancel_event,
            max_output_bytes=context.max_output_bytes,
            cwd=cwd,
            env=environment,
            user=user,
        )
    except OSError as error:
        logger.warning("cannot start command of task %s: %s", context.task_id, error)
        return failed(f"cannot start {task.command!r}: {error.strerror or error}")

    logger.info(
        "command of task %s attempt %d exited with %d after %.3f s",
        context.task_id,
        context.attempt,
        result.exit_code,
        time.monotonic() - started,
    )
    return _to_outcome(result, timeout, context.max_output_bytes)
