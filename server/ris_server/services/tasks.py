"""TaskService: submit, read, list, cancel and re-drive tasks."""

import base64
import binascii
import logging
import time
import uuid

from ris.v1 import client_pb2, task_pb2, task_pb2_grpc
from ris_server import metrics
from ris_server.convert import task_to_proto
from ris_server.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from ris_server.hub import Hub
from ris_server.interceptors import current_principal, service_errors
from ris_server.models import Task
from ris_server.tokens import Principal
from ris_server.validation import (
    check_limit,
    check_priority,
    check_task_spec,
    check_text,
    check_timeout,
    check_uuid,
)

log = logging.getLogger(__name__)

# Extra seconds a synchronous call waits past the task timeout, so that an
# agent's own timeout report arrives before the call gives up.
SYNC_WAIT_MARGIN = 5.0

# A list page ends early once its tasks pass this size, so a response stays
# under grpc's default 4 MiB message limit; next_page_token continues it.
LIST_PAGE_BYTES = 3 * 1024 * 1024


async def submit_task(
    hub: Hub,
    principal: Principal,
    tenant_code: str,
    client_id: str,
    spec: task_pb2.TaskSpec,
    *,
    timeout: int,
    priority: int,
    max_attempts: int,
    wait: bool,
    retry_on_failure: bool = False,
) -> task_pb2.Task:
    """Validate, persist and queue a task; optionally wait for its end.

    The task is in the store before this returns or waits. Raises
    InvalidArgument, NotFound, FailedPrecondition or ResourceExhausted.
    """
    check_task_spec(spec)
    type_name = task_pb2.TaskType.Name(spec.type).removeprefix("TASK_TYPE_").lower()
    if not client_id:
        client_id = hub.dispatcher.pick_client(tenant_code, type_name) or ""
        if not client_id:
            raise FailedPrecondition(
                f"no connected client of tenant {tenant_code!r} runs {type_name} "
                "tasks; name a client_id to queue the task for it"
            )
    check_uuid(client_id, "client_id")
    config = hub.config.task_orchestration
    timeout = check_timeout(timeout, config.task_timeout)
    priority = check_priority(priority)
    if max_attempts == 0:
        max_attempts = config.retry_policy.max_attempts
    if not 1 <= max_attempts <= 10:
        raise InvalidArgument(f"max_attempts must be 1 to 10, got {max_attempts}")
    store = hub.store
    client = await store.get_client_by_uid(tenant_code, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    if client.status != client_pb2.CLIENT_STATUS_ACTIVE:
        raise FailedPrecondition(f"client {client_id} is inactive")
    # Capabilities are known once the agent has registered; before that the
    # task waits in the queue like any other.
    if client.capabilities and type_name not in client.capabilities:
        raise FailedPrecondition(
            f"client {client_id} does not run {type_name} tasks; it supports "
            f"{', '.join(client.capabilities)}"
        )
    tenant = await store.get_tenant(tenant_code)
    tenant_limit = tenant.limits.get("max_tasks", 0) if tenant else 0
    if tenant_limit and await store.count_active_tasks(tenant_code) >= tenant_limit:
        raise ResourceExhausted(
            f"tenant {tenant_code!r} has {tenant_limit} tasks queued or running, "
            "its limit; retry later",
            retry_after=5,
        )
    payload = spec.SerializeToString()
    if hub.quotas is not None:
        await hub.quotas.check_submit(
            tenant_code, tenant.limits if tenant else {}, len(payload)
        )
    task = Task(
        task_id=str(uuid.uuid4()),
        tenant_code=tenant_code,
        client_uid=client_id,
        user_id=principal.user_id,
        type=spec.type,
        status=task_pb2.TASK_STATUS_QUEUED,
        priority=priority,
        spec=payload,
        timeout=timeout,
        max_attempts=max_attempts,
        created_at=time.time(),
        retry_on_failure=retry_on_failure,
    )
    if not await store.insert_task(task, config.queue.size):
        raise ResourceExhausted(
            f"the task queue is full ({config.queue.size} tasks queued or running); "
            "retry later",
            retry_after=5,
        )
    hub.audit.record(
        "task_execution",
        "submit",
        actor=principal.user_id,
        tenant=tenant_code,
        target=task.task_id,
        client=client_id,
        type=type_name,
    )
    metrics.TASKS_SUBMITTED.labels(
        metrics.type_label(task_pb2.TaskType.Name(task.type))
    ).inc()
    log.info(
        "user %s queued task %s (%s) for client %s",
        principal.user_id,
        task.task_id,
        task_pb2.TaskType.Name(task.type),
        client_id,
    )
    await hub.dispatcher.fill(client_id)
    if wait:
        await hub.dispatcher.wait_finished(
            tenant_code, task.task_id, timeout + SYNC_WAIT_MARGIN
        )
    stored = await store.get_task(tenant_code, task.task_id)
    return task_to_proto(stored or task)


def _page_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def _parse_page_token(token: str) -> int | None:
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        kind, _, value = text.partition(":")
        seq = int(value)
        if kind != "seq" or not 0 < seq < 2**63:
            raise ValueError(kind)
        return seq
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("page_token is invalid") from None


class TaskServicer(task_pb2_grpc.TaskServiceServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def _task(self, task_id: str) -> tuple[str, Task]:
        _, tenant = await self._hub.caller()
        check_uuid(task_id, "task_id")
        task = await self._hub.store.get_task(tenant.code, task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        return tenant.code, task

    @service_errors
    async def ExecuteTask(self, request, context):
        principal, tenant = await self._hub.caller()
        if not request.HasField("task"):
            raise InvalidArgument("task is required")
        task = await submit_task(
            self._hub,
            principal,
            tenant.code,
            request.client_id,
            request.task,
            timeout=request.timeout,
            priority=request.priority,
            max_attempts=request.max_attempts,
            wait=not request.run_async,
            retry_on_failure=request.retry_on_failure,
        )
        return task_pb2.ExecuteTaskResponse(task=task)

    @service_errors
    async def GetTask(self, request, context):
        _, task = await self._task(request.task_id)
        return task_pb2.GetTaskResponse(task=task_to_proto(task))

    async def _list(self, tenant_code: str, limit: int, page_token: str, **filters):
        limit = check_limit(limit)
        before = _parse_page_token(page_token)
        tasks = await self._hub.store.list_tasks(
            tenant_code, limit=limit + 1, before_seq=before, **filters
        )
        page: list[task_pb2.Task] = []
        size = 0
        for task in tasks[:limit]:
            message = task_to_proto(task)
            size += message.ByteSize()
            if page and size > LIST_PAGE_BYTES:
                return page, _page_token(tasks[len(page) - 1].seq)
            page.append(message)
        next_token = _page_token(tasks[limit - 1].seq) if len(tasks) > limit else ""
        return page, next_token

    @service_errors
    async def ListTasks(self, request, context):
        _, tenant = await self._hub.caller()
        if request.status not in task_pb2.TaskStatus.values():
            raise InvalidArgument(f"status {request.status} is not a task status")
        if request.client_id:
            check_uuid(request.client_id, "client_id")
        tasks, next_token = await self._list(
            tenant.code,
            request.limit,
            request.page_token,
            status=request.status,
            client_uid=request.client_id,
        )
        return task_pb2.ListTasksResponse(tasks=tasks, next_page_token=next_token)

    @service_errors
    async def CancelTask(self, request, context):
        check_text(request.reason, "reason", 500)
        tenant_code, _ = await self._task(request.task_id)
        task = await self._hub.store.request_cancel(
            tenant_code, request.task_id, time.time()
        )
        if task.status == task_pb2.TASK_STATUS_RUNNING:
            self._hub.dispatcher.cancel_running(task, request.reason or "cancelled")
        else:
            metrics.TASKS_FINISHED.labels("cancelled").inc()
            self._hub.dispatcher.notify_finished(task.task_id)
        self._hub.audit.record(
            "task_execution",
            "cancel",
            actor=current_principal().user_id,
            tenant=tenant_code,
            target=task.task_id,
        )
        log.info("cancel requested for task %s", task.task_id)
        return task_pb2.CancelTaskResponse(task=task_to_proto(task))

    @service_errors
    async def ListDeadLetters(self, request, context):
        _, tenant = await self._hub.caller()
        tasks, next_token = await self._list(
            tenant.code, request.limit, request.page_token, dead_lettered=True
        )
        return task_pb2.ListDeadLettersResponse(tasks=tasks, next_page_token=next_token)

    @service_errors
    async def RedriveTask(self, request, context):
        tenant_code, _ = await self._task(request.task_id)
        task = await self._hub.store.redrive_task(tenant_code, request.task_id)
        self._hub.audit.record(
            "task_execution",
            "redrive",
            actor=current_principal().user_id,
            tenant=tenant_code,
            target=task.task_id,
            attempt=task.attempt + 1,
        )
        log.info("task %s re-driven from the dead-letter list", task.task_id)
        await self._hub.dispatcher.fill(task.client_uid)
        return task_pb2.RedriveTaskResponse(task=task_to_proto(task))
