"""Run a program in its own process group with a time limit and bounded output.

The program starts in a new session, so its process id is also its process group
id and every descendant that does not start its own session is in that group.
Killing the group on timeout or cancellation kills grandchildren too.
"""

import asyncio
import logging
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psutil

from ris_agent.output import OutputBuffer

logger = logging.getLogger(__name__)

# Seconds between SIGTERM and SIGKILL to the process group.
DEFAULT_KILL_GRACE_SECONDS = 2.0
# Seconds to keep reading output after the group is gone. Only a process that left
# the group (setsid) can still hold the pipes open by then.
OUTPUT_DRAIN_SECONDS = 1.0
_READ_CHUNK_BYTES = 64 * 1024
_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class ProcessUser:
    """Identity to run a program as; requires an agent running as root."""

    name: str
    gid: int
    groups: tuple[int, ...]


@dataclass
class ProcessResult:
    """Exit status and bounded output of a finished program."""

    exit_code: int
    """Exit status, or the negative signal number if a signal ended the program."""
    stdout: OutputBuffer
    stderr: OutputBuffer
    timed_out: bool
    cancelled: bool
    leftover_killed: bool
    """Whether processes of the group were still running after the program exited
    and were killed."""


def _signal_group(pgid: int, signal_number: int) -> None:
    try:
        os.killpg(pgid, signal_number)
    except ProcessLookupError:
        pass  # the whole group has exited


def group_has_live_members(pgid: int) -> bool:
    """Return whether any process in the group is running (zombies do not count)."""
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) != pgid:
                continue
        except ProcessLookupError:
            continue
        if process.info["status"] != psutil.STATUS_ZOMBIE:
            return True
    return False


async def kill_process_group(pgid: int, grace: float) -> None:
    """Send SIGTERM to the group, then SIGKILL to what is still running after grace.

    Zombies, which a parent has not reaped yet, do not delay the SIGKILL.
    """
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_has_live_members(pgid):
            return
        await asyncio.sleep(_POLL_SECONDS)
    logger.warning("process group %d still running %.1f s after SIGTERM", pgid, grace)
    _signal_group(pgid, signal.SIGKILL)


async def _read_stream(stream: asyncio.StreamReader, buffer: OutputBuffer) -> None:
    # Reads until EOF, also past the limit, so the program cannot block on a full pipe.
    while chunk := await stream.read(_READ_CHUNK_BYTES):
        buffer.append(chunk)


async def _wait_for_returncode(process: asyncio.subprocess.Process) -> int:
    # Process.wait() of Python 3.11 also waits until the output pipes close, which a
    # background child can delay for as long as it runs. returncode is set at exit,
    # and asyncio offers no event for it, so poll.
    while process.returncode is None:  # noqa: ASYNC110
        await asyncio.sleep(_POLL_SECONDS)
    return process.returncode


async def _wait_for_exit(
    process: asyncio.subprocess.Process, timeout: float, cancel_event: asyncio.Event
) -> tuple[bool, bool]:
    """Wait until the process exits, the timeout passes or cancel_event is set.

    Returns (timed_out, cancelled); both are False when the process exited.
    """
    exit_wait = asyncio.ensure_future(_wait_for_returncode(process))
    cancel_wait = asyncio.ensure_future(cancel_event.wait())
    try:
        done, _ = await asyncio.wait(
            {exit_wait, cancel_wait},
            timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        cancel_wait.cancel()
    if exit_wait in done:
        return False, False
    exit_wait.cancel()
    return cancel_wait not in done, cancel_wait in done


async def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    cancel_event: asyncio.Event,
    max_output_bytes: int,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    user: ProcessUser | None = None,
    kill_grace: float = DEFAULT_KILL_GRACE_SECONDS,
) -> ProcessResult:
    """Run ``argv`` without a shell and return its exit code and bounded output.

    Timeout (seconds) and cancellation kill the whole process group: SIGTERM, then
    SIGKILL after ``kill_grace`` seconds. Processes of the group that are still
    running when the program exits are killed the same way, so a task leaves
    nothing behind unless it moved to its own session or process group. stdin is
    /dev/null.
    If the caller is cancelled, the group is killed before CancelledError
    propagates. Raises OSError when the program cannot start (not found, not
    executable, bad working directory).
    """
    extra = {}
    if user is not None:
        extra = {
            "user": user.name,
            "group": user.gid,
            "extra_groups": list(user.groups),
        }
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        start_new_session=True,
        **extra,
    )
    pgid = process.pid
    logger.debug("started process %d: %s", pgid, argv[0])

    stdout = OutputBuffer(max_output_bytes)
    stderr = OutputBuffer(max_output_bytes)
    readers = asyncio.gather(
        _read_stream(process.stdout, stdout), _read_stream(process.stderr, stderr)
    )
    try:
        timed_out, cancelled = await _wait_for_exit(process, timeout, cancel_event)
        if timed_out or cancelled:
            await kill_process_group(pgid, kill_grace)
        await _wait_for_returncode(process)

        leftover = group_has_live_members(pgid)
        if leftover:
            logger.info("killing processes left in group %d after it exited", pgid)
            await kill_process_group(pgid, kill_grace)
        await _drain(readers, pgid)
    except asyncio.CancelledError:
        logger.info("task cancelled, killing process group %d", pgid)
        readers.cancel()
        await asyncio.shield(kill_process_group(pgid, kill_grace))
        raise

    return ProcessResult(
        exit_code=process.returncode,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        cancelled=cancelled,
        leftover_killed=leftover,
    )


async def _drain(readers: asyncio.Future, pgid: int) -> None:
    try:
        await asyncio.wait_for(readers, OUTPUT_DRAIN_SECONDS)
    except TimeoutError:
        # A process that left the group keeps the pipes open. Keep what was read.
        logger.warning(
            "stopped reading output of process %d: a process outside its group "
            "keeps the pipes open",
            pgid,
        )
