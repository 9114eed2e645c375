"""Types shared by the task runner and the executors."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ris.v1 import task_pb2

# Time limit for an attempt whose assignment and payload both give none.
DEFAULT_TASK_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class ExecutionContext:
    """Attempt identity, limits and cancellation signal passed to an executor."""

    task_id: str
    attempt: int
    timeout: float
    """Time limit of the attempt in seconds from the assignment; a payload's own
    timeout field takes precedence where the payload has one."""
    max_output_bytes: int
    """Limit for each of stdout, stderr and an HTTP body, in bytes."""
    allow_privileged: bool
    cancel_event: asyncio.Event
    """Set when the hub cancels the attempt or the agent stops."""


@dataclass
class Outcome:
    """Terminal status and result of an attempt, before the runner adds timing."""

    status: task_pb2.TaskStatus.ValueType
    result: task_pb2.TaskResult


Executor = Callable[[task_pb2.TaskSpec, ExecutionContext], Awaitable[Outcome]]
"""Runs one payload type; returns an Outcome and raises only on internal bugs."""


def failed(error: str) -> Outcome:
    """Return a FAILED outcome with an error message and no output."""
    return Outcome(task_pb2.TASK_STATUS_FAILED, task_pb2.TaskResult(error=error))


def effective_timeout(payload_timeout: int, context: ExecutionContext) -> float:
    """Return the payload's timeout if set, else the assignment's, else the default."""
    if payload_timeout > 0:
        return float(payload_timeout)
    if context.timeout > 0:
        return context.timeout
    return DEFAULT_TASK_TIMEOUT_SECONDS
