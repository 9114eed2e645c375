"""Task runner: runs assignments within a concurrency limit and reports results.

A task attempt is identified by (task_id, attempt). A repeated assignment of an
attempt that is running or queued is ignored, and one whose result is still in
the outbox gets that result again. An attempt whose result the hub acknowledged
is ignored too while the runner remembers it (the last 10,000 finished attempts of
this process), so within those limits no attempt runs twice. Every result is
written to the outbox before it is sent and stays there until the hub
acknowledges it.
"""

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ris.v1 import agent_pb2, task_pb2
from ris_agent.execution import ExecutionContext, Executor, Outcome, failed
from ris_agent.executions_log import ExecutionsLog
from ris_agent.outbox import Outbox

logger = logging.getLogger(__name__)

Sender = Callable[[agent_pb2.ConnectRequest], None]
"""Queues a message on the current stream without blocking."""
TaskKey = tuple[str, int]

# Acknowledged attempts remembered to ignore a late repeated assignment.
_FINISHED_MEMORY = 10_000

_PAYLOAD_OF_TYPE = {
    task_pb2.TASK_TYPE_HTTP_REQUEST: "http_request",
    task_pb2.TASK_TYPE_COMMAND: "command",
    task_pb2.TASK_TYPE_DOCKER_SERVICE: "docker_service",
}


@dataclass(frozen=True)
class RunnerLimits:
    """Limits of the runner and of each task, from the command line."""

    max_concurrent: int
    max_output_bytes: int
    allow_privileged: bool


@dataclass
class _Attempt:
    assignment: agent_pb2.TaskAssignment
    cancel_event: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    stop_reason: str = ""
    """Reason the agent itself ended the attempt; empty for hub cancellations."""

    @property
    def key(self) -> TaskKey:
        return self.assignment.task_id, self.assignment.attempt


def _now() -> datetime:
    return datetime.now(UTC)


class TaskRunner:
    """Runs task attempts and sends their results on the current stream."""

    def __init__(
        self,
        *,
        executors: Mapping[str, Executor],
        limits: RunnerLimits,
        outbox: Outbox,
        executions: ExecutionsLog,
    ):
        """``executors`` maps a payload name ("command") to its executor."""
        self._executors = dict(executors)
        self._limits = limits
        self._outbox = outbox
        self._executions = executions
        self._sender: Sender | None = None
        self._active: dict[TaskKey, _Attempt] = {}
        self._queue: deque[TaskKey] = deque()
        self._finished: OrderedDict[TaskKey, None] = OrderedDict()
        self._accepting = True

    @property
    def capabilities(self) -> list[str]:
        return list(self._executors)

    @property
    def running_count(self) -> int:
        return sum(1 for attempt in self._active.values() if attempt.task is not None)

    def running_tasks(self) -> list[agent_pb2.RunningTask]:
        """Return the attempts that run or wait in the local queue."""
        return [
            agent_pb2.RunningTask(task_id=task_id, attempt=number)
            for task_id, number in self._active
        ]

    def set_sender(self, sender: Sender | None) -> None:
        """Attach the current stream, or detach it with None."""
        self._sender = sender

    def _send_result(self, report: agent_pb2.ResultReport) -> None:
        if self._sender is None:
            logger.info(
                "no stream; result of task %s attempt %d stays in the outbox",
                report.task_id,
                report.attempt,
            )
            return
        self._sender(agent_pb2.ConnectRequest(result=report))

    async def resend_outbox(self) -> int:
        """Send every stored result again; return how many there were."""
        reports = await asyncio.to_thread(self._outbox.load_all)
        for report in reports:
            self._send_result(report)
        if reports:
            logger.info("resent %d results from the outbox", len(reports))
        return len(reports)

    def handle_assignment(self, assignment: agent_pb2.TaskAssignment) -> None:
        """Start, queue or de-duplicate an assignment."""
        key = (assignment.task_id, assignment.attempt)
        if not self._accepting:
            logger.warning("ignoring task %s attempt %d: the agent is stopping", *key)
            return
        if key in self._active:
            logger.info("ignoring repeated assignment of task %s attempt %d", *key)
            return
        stored = self._outbox.get(*key)
        if stored is not None:
            logger.info(
                "task %s attempt %d already finished; sending its result again", *key
            )
            self._send_result(stored)
            return
        if key in self._finished:
            logger.warning(
                "ignoring task %s attempt %d: it already ran and its result was "
                "acknowledged",
                *key,
            )
            return

        attempt = _Attempt(assignment)
        self._active[key] = attempt
        if self.running_count >= self._limits.max_concurrent:
            self._queue.append(key)
            logger.warning(
                "queued task %s attempt %d locally: the limit of %d running tasks "
                "is reached, so the hub sent more than the agent registered for",
                *key,
                self._limits.max_concurrent,
            )
            return
        self._start(attempt)

    def handle_cancellation(self, cancellation: agent_pb2.TaskCancellation) -> None:
        """Cancel a running or queued attempt; attempt 0 matches every attempt."""
        keys = [
            key
            for key in self._active
            if key[0] == cancellation.task_id and cancellation.attempt in (0, key[1])
        ]
        if not keys:
            stored = self._outbox.get(cancellation.task_id, cancellation.attempt)
            if stored is not None:
                self._send_result(stored)  # it finished before the cancellation
                return
            logger.warning(
                "ignoring cancellation of unknown task %s attempt %d",
                cancellation.task_id,
                cancellation.attempt,
            )
            return
        for key in keys:
            logger.info(
                "cancelling task %s attempt %d: %s", *key, cancellation.reason or "-"
            )
            self._cancel(self._active[key])

    def _cancel(self, attempt: _Attempt) -> None:
        attempt.cancel_event.set()
        if attempt.task is None:
            # A queued attempt starts at once and ends as CANCELLED without running.
            self._queue.remove(attempt.key)
            self._start(attempt)

    def handle_result_ack(self, ack: agent_pb2.ResultAck) -> None:
        if self._outbox.remove(ack.task_id, ack.attempt):
            logger.debug(
                "hub stored result of task %s attempt %d", ack.task_id, ack.attempt
            )

    def stop_accepting(self) -> None:
        """Ignore new assignments from now on and end queued attempts unrun."""
        self._accepting = False
        for key in list(self._queue):
            attempt = self._active[key]
            attempt.stop_reason = "the agent stopped before the task started"
            self._cancel(attempt)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for all attempts to end.

        Returns whether all of them ended.
        """
        tasks = [attempt.task for attempt in self._active.values() if attempt.task]
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    async def stop_all(self, reason: str) -> None:
        """End every attempt, killing commands, and report it as FAILED with reason."""
        attempts = list(self._active.values())
        for attempt in attempts:
            logger.warning("stopping task %s attempt %d: %s", *attempt.key, reason)
            attempt.stop_reason = reason
            self._cancel(attempt)
        tasks = [attempt.task for attempt in attempts if attempt.task]
        if tasks:
            await asyncio.wait(tasks)

    def _start(self, attempt: _Attempt) -> None:
        attempt.task = asyncio.create_task(
            self._execute(attempt), name=f"task-{attempt.key[0]}-{attempt.key[1]}"
        )

    def _start_queued(self) -> None:
        while self._queue and self.running_count < self._limits.max_concurrent:
            self._start(self._active[self._queue.popleft()])

    async def _execute(self, attempt: _Attempt) -> None:
        try:
            report = await self._run_attempt(attempt)
            await self._store(attempt, report)
        finally:
            # Runs on errors and cancellation too, so a failed attempt frees its slot.
            del self._active[attempt.key]
            self._finished[attempt.key] = None
            if len(self._finished) > _FINISHED_MEMORY:
                self._finished.popitem(last=False)
            self._start_queued()
        self._send_result(report)

    async def _run_attempt(self, attempt: _Attempt) -> agent_pb2.ResultReport:
        started_at = None
        started = time.monotonic()
        if attempt.cancel_event.is_set():
            outcome = Outcome(
                task_pb2.TASK_STATUS_CANCELLED,
                task_pb2.TaskResult(error="cancelled before it started"),
            )
        else:
            started_at = _now()
            await self._record_start(attempt, started_at)
            outcome = await self._run_executor(attempt)

        if attempt.stop_reason:
            outcome.status = task_pb2.TASK_STATUS_FAILED
            outcome.result.error = attempt.stop_reason
        outcome.result.execution_time = int((time.monotonic() - started) * 1000)
        report = agent_pb2.ResultReport(
            task_id=attempt.assignment.task_id,
            attempt=attempt.assignment.attempt,
            status=outcome.status,
            result=outcome.result,
        )
        if started_at is not None:
            report.started_at.FromDatetime(started_at)
        report.completed_at.FromDatetime(_now())
        return report

    async def _record_start(self, attempt: _Attempt, started_at: datetime) -> None:
        task_id, number = attempt.key
        logger.info(
            "starting task %s attempt %d (%s)",
            task_id,
            number,
            attempt.assignment.spec.WhichOneof("payload") or "no payload",
        )
        try:
            await asyncio.to_thread(
                self._executions.record_start, task_id, number, started_at
            )
        except OSError as error:
            logger.error(
                "cannot append task %s attempt %d to %s: %s",
                task_id,
                number,
                self._executions.path,
                error,
            )

    async def _run_executor(self, attempt: _Attempt) -> Outcome:
        assignment = attempt.assignment
        spec = assignment.spec
        payload = spec.WhichOneof("payload")
        executor = self._executors.get(payload or "")
        if executor is None:
            supported = ", ".join(self._executors)
            return failed(
                f"unsupported task payload {payload or 'none'}: "
                f"this agent runs {supported}"
            )
        if (
            spec.type != task_pb2.TASK_TYPE_UNSPECIFIED
            and _PAYLOAD_OF_TYPE.get(spec.type) != payload
        ):
            return failed(
                f"task type {task_pb2.TaskType.Name(spec.type)} does not match "
                f"payload {payload}"
            )

        context = ExecutionContext(
            task_id=assignment.task_id,
            attempt=assignment.attempt,
            timeout=float(assignment.timeout),
            max_output_bytes=self._limits.max_output_bytes,
            allow_privileged=self._limits.allow_privileged,
            cancel_event=attempt.cancel_event,
        )
        try:
            return await executor(spec, context)
        except Exception as error:  # a bug in an executor must still end the attempt
            logger.exception(
                "executor %s failed on task %s attempt %d", payload, *attempt.key
            )
            return failed(f"internal error in the agent: {error!r}")

    async def _store(self, attempt: _Attempt, report: agent_pb2.ResultReport) -> None:
        try:
            await asyncio.to_thread(self._outbox.write, report)
        except OSError as error:
            logger.error(
                "cannot store result of task %s attempt %d in the outbox, sending "
                "it without a copy: %s",
                *attempt.key,
                error,
            )
        logger.info(
            "task %s attempt %d ended with %s",
            *attempt.key,
            task_pb2.TaskStatus.Name(report.status),
        )
