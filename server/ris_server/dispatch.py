"""Delivery of tasks to connected agents.

The store is the queue: a task is persisted as QUEUED before its submit call
returns, and a task moves to RUNNING only when it is claimed for a connected
agent with free capacity. Delivery is at least once. Every assignment and
result carries the task id and attempt, so a result of an old attempt is
recorded as stale and never applied twice.
"""

import asyncio
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ris.v1 import agent_pb2, task_pb2
from ris_server import metrics
from ris_server.convert import cap_result
from ris_server.models import Task
from ris_server.retry import RetryPolicy
from ris_server.store.base import Repository, TaskOutcome

log = logging.getLogger(__name__)

# Largest stored result. It leaves room under grpc's default 4 MiB message
# limit for the task around it, so any gRPC client can read the task back.
MAX_RESULT_BYTES = 3 * 1024 * 1024

TERMINAL = {
    task_pb2.TASK_STATUS_COMPLETED,
    task_pb2.TASK_STATUS_FAILED,
    task_pb2.TASK_STATUS_CANCELLED,
    task_pb2.TASK_STATUS_TIMEOUT,
}


@dataclass(eq=False)
class AgentSession:
    """One agent stream: what the hub sends it and what it runs."""

    unique_client_id: str
    tenant_code: str
    max_concurrent: int
    capabilities: frozenset[str] = frozenset()
    peer: str = ""
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    outbound: asyncio.Queue = field(default_factory=asyncio.Queue)
    inflight: set[tuple[str, int]] = field(default_factory=set)
    closed: bool = False
    close_reason: str = ""
    # Name of the gRPC status code the stream ends with when close_reason is set.
    close_status: str = "DEADLINE_EXCEEDED"
    # Serial (lower-case hex) of the client certificate the stream uses.
    certificate_serial: str = ""
    # Slots held by the claim in flight for this session, and whether a fill
    # arrived during it and requests another round.
    reserved: int = 0
    refill: bool = False

    def send(self, message: agent_pb2.ConnectResponse) -> None:
        if not self.closed:
            self.outbound.put_nowait(message)

    def close(self, reason: str = "", status: str = "DEADLINE_EXCEEDED") -> None:
        """End the stream; the writer stops at the None sentinel.

        A non-empty `reason` ends the stream with the gRPC status named by
        `status` and that message instead of a normal end.
        """
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            self.close_status = status
            self.outbound.put_nowait(None)

    @property
    def free_slots(self) -> int:
        return max(0, self.max_concurrent - len(self.inflight))


def assignment_for(task: Task) -> agent_pb2.ConnectResponse:
    return agent_pb2.ConnectResponse(
        assignment=agent_pb2.TaskAssignment(
            task_id=task.task_id,
            attempt=task.attempt,
            spec=task_pb2.TaskSpec.FromString(task.spec),
            timeout=task.timeout,
        )
    )


class Dispatcher:
    """Matches queued tasks with agent sessions and records their results."""

    def __init__(
        self,
        store: Repository,
        *,
        lease_grace: float,
        retry_policy: RetryPolicy,
        aging_interval: float = 0.0,
        max_concurrent_tasks: int = 1_000_000,
        lost_agent_grace: float = 60.0,
        max_queue_wait: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._lease_grace = lease_grace
        self._retry_policy = retry_policy
        self._aging_interval = aging_interval
        self._max_concurrent = max_concurrent_tasks
        self._lost_agent_grace = lost_agent_grace
        self._max_queue_wait = max_queue_wait
        self._rng = rng or random.Random()
        # Called with the tenant and size of every result an agent reports,
        # for the tenant quotas; the hub replaces this no-op.
        self.result_sizes: Callable[[str, int], None] = lambda tenant, size: None
        self._sessions: dict[str, AgentSession] = {}
        # Sum of the in-flight sets of the sessions in _sessions, kept up to
        # date so the global cap costs no loop over all agents per claim.
        self._inflight_count = 0
        # Slots held by claims in flight over all sessions, counted against
        # the global cap like running tasks.
        self._reserved = 0
        # Set when a fill found the global cap taken only by reservations.
        self._cap_refused = False
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._timers: set[asyncio.TimerHandle] = set()
        self._lost_since: dict[str, float] = {}
        self._background: set[asyncio.Task] = set()

    # Sessions.
    def session(self, unique_client_id: str) -> AgentSession | None:
        return self._sessions.get(unique_client_id)

    def connected_count(self) -> int:
        return len(self._sessions)

    def running_count(self, unique_client_id: str) -> int:
        session = self._sessions.get(unique_client_id)
        return len(session.inflight) if session else 0

    async def attach(
        self, session: AgentSession, running: list[agent_pb2.RunningTask]
    ) -> None:
        """Take over a client's stream and reconcile what its agent still runs.

        A task the store has as RUNNING on this client but that the agent did
        not list is sent again with the same attempt: the agent either finds
        its result in its outbox and resends it, or runs it.
        """
        old = self._sessions.get(session.unique_client_id)
        if old is not None:
            log.info(
                "client %s reconnected; closing its previous stream %s",
                session.unique_client_id,
                old.session_id,
            )
            old.close()
            self._inflight_count -= len(old.inflight)
        self._sessions[session.unique_client_id] = session
        self._lost_since.pop(session.unique_client_id, None)
        metrics.AGENTS_CONNECTED.set(len(self._sessions))
        reported = {(item.task_id, item.attempt) for item in running}
        current = await self._store.running_tasks(session.unique_client_id)
        current_keys = {(task.task_id, task.attempt) for task in current}
        for task_id, attempt in reported - current_keys:
            log.info(
                "client %s still runs task %s attempt %d, which is no longer "
                "current; cancelling it",
                session.unique_client_id,
                task_id,
                attempt,
            )
            session.send(
                agent_pb2.ConnectResponse(
                    cancellation=agent_pb2.TaskCancellation(
                        task_id=task_id, attempt=attempt, reason="superseded"
                    )
                )
            )
        for task in current:
            key = (task.task_id, task.attempt)
            self._set_inflight(session, key, True)
            if key not in reported:
                # NOTE: an agent that crashed mid-task runs it again under the
                # same attempt number, so that re-run does not count against
                # max_attempts.
                log.info(
                    "resending task %s attempt %d to client %s",
                    task.task_id,
                    task.attempt,
                    session.unique_client_id,
                )
                session.send(assignment_for(task))
            if task.cancel_requested:
                self._send_cancel(session, task, "cancelled by an operator")
        await self.fill(session.unique_client_id)

    def detach(self, session: AgentSession) -> bool:
        """Forget a session; return True if it was still the client's current one."""
        session.close()
        if self._sessions.get(session.unique_client_id) is session:
            del self._sessions[session.unique_client_id]
            self._inflight_count -= len(session.inflight)
            metrics.AGENTS_CONNECTED.set(len(self._sessions))
            self._lost_since[session.unique_client_id] = time.monotonic()
            self._later(
                self._lost_agent_grace,
                self.recover_lost_agent,
                session.unique_client_id,
            )
            return True
        return False

    def _later(self, delay: float, coroutine_function, *args) -> None:
        """Run a coroutine after `delay` seconds unless the dispatcher closes."""
        loop = asyncio.get_running_loop()

        def start() -> None:
            self._timers.discard(handle)
            task = loop.create_task(coroutine_function(*args))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        handle = loop.call_later(delay, start)
        self._timers.add(handle)

    def close(self) -> None:
        """Cancel pending timers and background work."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for task in self._background:
            task.cancel()

    def close_client(self, unique_client_id: str) -> None:
        session = self._sessions.get(unique_client_id)
        if session is not None:
            session.close()

    def drain_all(self, reason: str) -> None:
        for session in list(self._sessions.values()):
            session.send(
                agent_pb2.ConnectResponse(
                    drain=agent_pb2.Drain(reason=reason, reconnect_after=1)
                )
            )
            session.close()

    # Assignment.
    async def fill(self, unique_client_id: str) -> None:
        """Claim queued tasks for a client's free slots and send them.

        Claims of different clients run at the same time, so their store
        writes share commits. A claim reserves its slots before it awaits the
        store and releases them after, which keeps each session's slots and
        the global cap without a lock held across the write. A fill that
        arrives while its session's claim is in flight requests another round
        of it, so a task queued meanwhile does not wait for the watchdog.
        """
        session = self._sessions.get(unique_client_id)
        if session is None:
            return
        if session.reserved:
            session.refill = True
            return
        while not session.closed:
            session.refill = False
            free = self._global_free() - self._reserved
            slots = min(session.free_slots, free)
            if slots <= 0:
                if session.free_slots > 0 and self._reserved:
                    self._cap_refused = True
                return
            session.reserved = slots
            self._reserved += slots
            try:
                tasks = await self._store.claim_tasks(
                    unique_client_id, slots, time.time(), self._aging_interval
                )
            finally:
                session.reserved = 0
                self._reserved -= slots
                if self._cap_refused and not self._reserved:
                    self._cap_refused = False
                    self._later(0, self.fill_all)
            for task in tasks:
                self._set_inflight(session, (task.task_id, task.attempt), True)
                log.debug(
                    "assigned task %s attempt %d to client %s",
                    task.task_id,
                    task.attempt,
                    unique_client_id,
                )
                session.send(assignment_for(task))
            if not tasks and not session.refill:
                return

    def _set_inflight(self, session: AgentSession, key: tuple[str, int], present: bool):
        """Add or remove an attempt of a session, keeping the running count."""
        before = len(session.inflight)
        if present:
            session.inflight.add(key)
        else:
            session.inflight.discard(key)
        if self._sessions.get(session.unique_client_id) is session:
            self._inflight_count += len(session.inflight) - before

    def _inflight_total(self) -> int:
        return self._inflight_count

    def _global_free(self) -> int:
        return self._max_concurrent - self._inflight_total()

    async def fill_all(self) -> None:
        """Fill every session that has queued tasks ready to claim."""
        ready = await self._store.clients_with_queued_tasks(time.time())
        for unique_client_id in ready:
            if self._global_free() <= 0:
                return
            await self.fill(unique_client_id)

    # Results.
    async def on_result(
        self, session: AgentSession, report: agent_pb2.ResultReport
    ) -> None:
        """Store a result if it is current, acknowledge it in every case.

        A failure that is safe to retry queues another attempt instead.
        """
        task = await self._store.get_task_any_tenant(report.task_id)
        if task is None or task.client_uid != session.unique_client_id:
            log.warning(
                "client %s reported a result for task %s it was never assigned",
                session.unique_client_id,
                report.task_id,
            )
        else:
            decision = await self._retry_failed_attempt(task, report)
            if decision != "retried":
                await self._store_result(report, dead_lettered=decision == "exhausted")
            self.result_sizes(task.tenant_code, report.result.ByteSize())
        at_cap = self._global_free() <= 0
        self._set_inflight(session, (report.task_id, report.attempt), False)
        session.send(
            agent_pb2.ConnectResponse(
                result_ack=agent_pb2.ResultAck(
                    task_id=report.task_id, attempt=report.attempt
                )
            )
        )
        if at_cap:
            await self.fill_all()
        else:
            await self.fill(session.unique_client_id)

    async def _store_result(
        self, report: agent_pb2.ResultReport, dead_lettered: bool = False
    ) -> None:
        status = report.status
        if status not in TERMINAL:
            status = task_pb2.TASK_STATUS_FAILED
        result = cap_result(report.result, MAX_RESULT_BYTES)
        outcome = await self._store.finish_task(
            report.task_id,
            report.attempt,
            status,
            result.SerializeToString(),
            result.error,
            time.time(),
            dead_lettered=dead_lettered,
        )
        if outcome is TaskOutcome.APPLIED:
            metrics.TASKS_FINISHED.labels(
                metrics.status_label(task_pb2.TaskStatus.Name(status))
            ).inc()
            log.info(
                "task %s attempt %d finished as %s",
                report.task_id,
                report.attempt,
                task_pb2.TaskStatus.Name(status),
            )
            self._wake(report.task_id)
        else:
            metrics.RESULTS_STALE.inc()
            log.info(
                "ignored a %s result of task %s attempt %d",
                outcome.value,
                report.task_id,
                report.attempt,
            )

    async def _retry_failed_attempt(
        self, task: Task, report: agent_pb2.ResultReport
    ) -> str:
        """Queue another attempt for a failure that is safe to retry.

        A failed or timed-out attempt may be retried when the agent marked it
        retryable or the task asked for retries. Returns "retried" when the
        task was queued again, "exhausted" when it may be retried but has no
        attempts left, and "final" otherwise.
        """
        failed = (task_pb2.TASK_STATUS_FAILED, task_pb2.TASK_STATUS_TIMEOUT)
        if report.status not in failed:
            return "final"
        if not (report.result.retryable or task.retry_on_failure):
            return "final"
        if (
            report.attempt != task.attempt
            or task.status != task_pb2.TASK_STATUS_RUNNING
        ):
            return "final"
        if task.cancel_requested:
            return "final"
        if task.attempt >= task.max_attempts:
            return "exhausted"
        reason = report.result.error or task_pb2.TaskStatus.Name(report.status)
        if await self.retry_or_fail(task, reason, report.status) == "retried":
            return "retried"
        return "final"

    def pick_client(self, tenant_code: str, capability: str) -> str | None:
        """Return the least loaded connected client of a tenant with a capability."""
        best: tuple[float, str] | None = None
        for session in self._sessions.values():
            if session.tenant_code != tenant_code or session.closed:
                continue
            if capability not in session.capabilities:
                continue
            load = len(session.inflight) / session.max_concurrent
            if best is None or load < best[0]:
                best = (load, session.unique_client_id)
        return best[1] if best else None

    async def on_progress(
        self, session: AgentSession, report: agent_pb2.ProgressReport
    ) -> None:
        if (report.task_id, report.attempt) in session.inflight:
            await self._store.set_progress(
                report.task_id, report.attempt, report.progress.SerializeToString()
            )

    # Cancellation.
    def _send_cancel(self, session: AgentSession, task: Task, reason: str) -> None:
        session.send(
            agent_pb2.ConnectResponse(
                cancellation=agent_pb2.TaskCancellation(
                    task_id=task.task_id, attempt=task.attempt, reason=reason
                )
            )
        )

    def cancel_running(self, task: Task, reason: str) -> None:
        session = self._sessions.get(task.client_uid)
        if session is not None:
            self._send_cancel(session, task, reason)

    # Waiting for results.
    def _wake(self, task_id: str) -> None:
        for event in self._waiters.pop(task_id, ()):
            event.set()

    def notify_finished(self, task_id: str) -> None:
        self._wake(task_id)

    async def wait_finished(
        self, tenant_code: str, task_id: str, timeout: float
    ) -> None:
        """Wait until the task is terminal or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            event = asyncio.Event()
            self._waiters[task_id].add(event)
            task = await self._store.get_task(tenant_code, task_id)
            if task is None or task.status in TERMINAL:
                self._waiters[task_id].discard(event)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._waiters[task_id].discard(event)
                return
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                self._waiters[task_id].discard(event)
                if not self._waiters[task_id]:
                    self._waiters.pop(task_id, None)
                return

    # Failures the hub detects: expired leases, lost agents, long waits.
    async def retry_or_fail(self, task: Task, reason: str, final_status: int) -> str:
        """Queue another attempt after a backoff, or end the task.

        A task with attempts left is queued again, to be claimed after a
        delay from the retry policy. One without attempts left ends with
        `final_status` and goes to the dead-letter list; one an operator
        cancelled ends as CANCELLED. Returns "retried", "ended" or "stale".
        """
        now = time.time()
        if task.attempt < task.max_attempts and not task.cancel_requested:
            delay = self._retry_policy.delay(task.attempt, self._rng)
            if not await self._store.requeue_task(
                task.task_id, task.attempt, now + delay
            ):
                return "stale"
            log.warning(
                "task %s attempt %d: %s; attempt %d in %.1f s",
                task.task_id,
                task.attempt,
                reason,
                task.attempt + 1,
                delay,
            )
            self._later(delay, self.fill, task.client_uid)
            return "retried"
        status = (
            task_pb2.TASK_STATUS_CANCELLED if task.cancel_requested else final_status
        )
        outcome = await self._store.finish_task(
            task.task_id,
            task.attempt,
            status,
            None,
            reason,
            now,
            dead_lettered=not task.cancel_requested,
        )
        if outcome is not TaskOutcome.APPLIED:
            return "stale"
        metrics.TASKS_FINISHED.labels(
            metrics.status_label(task_pb2.TaskStatus.Name(status))
        ).inc()
        log.warning(
            "task %s ended as %s after attempt %d: %s",
            task.task_id,
            task_pb2.TaskStatus.Name(status),
            task.attempt,
            reason,
        )
        self._wake(task.task_id)
        return "ended"

    async def expire_leases(self) -> int:
        """Retry or time out running tasks past their timeout and grace."""
        expired = await self._store.expired_running_tasks(
            time.time(), self._lease_grace
        )
        for task in expired:
            session = self._sessions.get(task.client_uid)
            if session is not None:
                self._set_inflight(session, (task.task_id, task.attempt), False)
                self._send_cancel(session, task, "lease expired")
            await self.retry_or_fail(
                task,
                "no result from the agent within the task timeout",
                task_pb2.TASK_STATUS_TIMEOUT,
            )
        return len(expired)

    async def retry_running(self, unique_client_id: str, reason: str) -> int:
        """Retry or fail a client's running tasks now, as for a lost agent."""
        tasks = await self._store.running_tasks(unique_client_id)
        for task in tasks:
            await self.retry_or_fail(task, reason, task_pb2.TASK_STATUS_FAILED)
        return len(tasks)

    async def recover_lost_agent(self, unique_client_id: str) -> int:
        """Retry the running tasks of an agent that stayed away past the grace."""
        lost_since = self._lost_since.get(unique_client_id)
        if unique_client_id in self._sessions or lost_since is None:
            return 0
        if time.monotonic() - lost_since < self._lost_agent_grace * 0.99:
            return 0  # it came back and left again; a later check handles it
        del self._lost_since[unique_client_id]
        tasks = await self._store.running_tasks(unique_client_id)
        for task in tasks:
            await self.retry_or_fail(
                task,
                f"agent lost for more than {self._lost_agent_grace:.0f} s",
                task_pb2.TASK_STATUS_FAILED,
            )
        return len(tasks)

    async def expire_queue_waits(self) -> int:
        """End tasks that waited for their agent longer than the limit."""
        if self._max_queue_wait <= 0:
            return 0
        now = time.time()
        expired = await self._store.expired_queued_tasks(now, self._max_queue_wait)
        for task in expired:
            outcome = await self._store.finish_task(
                task.task_id,
                task.attempt,
                task_pb2.TASK_STATUS_TIMEOUT,
                None,
                f"no agent took the task within {self._max_queue_wait:.0f} s",
                now,
                dead_lettered=True,
            )
            if outcome is TaskOutcome.APPLIED:
                metrics.TASKS_FINISHED.labels("timeout").inc()
                log.warning("task %s timed out waiting for its agent", task.task_id)
                self._wake(task.task_id)
        return len(expired)

    async def tick(self) -> None:
        """Run one watchdog round: leases, lost agents, queue waits, due retries."""
        await self.expire_leases()
        await self.expire_queue_waits()
        await self.fill_all()
