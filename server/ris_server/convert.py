"""Conversions between domain records and protobuf messages."""

from google.protobuf.timestamp_pb2 import Timestamp

from ris.v1 import client_pb2, common_pb2, task_pb2, tenant_pb2
from ris_server import models

_SECRET_MARK = "[REDACTED]"


def timestamp(seconds: float | None) -> Timestamp | None:
    if seconds is None:
        return None
    value = Timestamp()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def client_to_proto(client: models.Client, running_tasks: int = 0) -> client_pb2.Client:
    message = client_pb2.Client(
        id=client.id,
        name=client.name,
        description=client.description,
        host=client.host,
        status=client.status,
        connection_status=(
            client_pb2.CONNECTION_STATUS_CONNECTED
            if client.connected
            else client_pb2.CONNECTION_STATUS_DISCONNECTED
        ),
        version=client.version,
        unique_client_id=client.unique_client_id,
        tenant_code=client.tenant_code,
        created_date=client.created_ms,
        updated_date=client.updated_ms,
        capabilities=client.capabilities,
        ip_address=client.ip_address,
        resource_usage=common_pb2.ResourceUsage(**client.resource_usage),
        max_concurrent_tasks=client.max_concurrent_tasks,
        running_tasks=running_tasks,
    )
    if client.last_seen is not None:
        message.last_seen.CopyFrom(timestamp(client.last_seen))
    return message


def tenant_to_proto(tenant: models.Tenant) -> tenant_pb2.Tenant:
    database = {k: v for k, v in tenant.database_info.items() if k != "password"}
    return tenant_pb2.Tenant(
        id=tenant.id,
        code=tenant.code,
        name=tenant.name,
        description=tenant.description,
        status=tenant.status,
        database_info=tenant_pb2.DatabaseInfo(**database),
        settings=tenant_pb2.TenantSettings(**tenant.settings),
        limits=tenant_pb2.ResourceLimits(**tenant.limits),
        created_at=timestamp(tenant.created_at),
        updated_at=timestamp(tenant.updated_at),
    )


def redact_spec(spec: task_pb2.TaskSpec) -> task_pb2.TaskSpec:
    """Return a copy of a task payload with credentials replaced by a mark."""
    copy = task_pb2.TaskSpec()
    copy.CopyFrom(spec)
    if copy.HasField("http_request"):
        auth = copy.http_request.auth
        for name in ("password", "bearer_token", "api_key"):
            if getattr(auth, name):
                setattr(auth, name, _SECRET_MARK)
        for header in list(copy.http_request.headers):
            if header.lower() in ("authorization", "proxy-authorization", "cookie"):
                copy.http_request.headers[header] = _SECRET_MARK
    return copy


def task_to_proto(task: models.Task) -> task_pb2.Task:
    spec = task_pb2.TaskSpec.FromString(task.spec)
    message = task_pb2.Task(
        task_id=task.task_id,
        type=task.type,
        status=task.status,
        priority=task.priority,
        client_id=task.client_uid,
        tenant_code=task.tenant_code,
        user_id=task.user_id,
        payload=redact_spec(spec),
        timeout=task.timeout,
        attempt=task.attempt,
        max_attempts=task.max_attempts,
        dead_lettered=task.dead_lettered,
        created_at=timestamp(task.created_at),
    )
    if task.result is not None:
        message.result.ParseFromString(task.result)
    elif task.error:
        message.result.error = task.error
    if task.progress is not None and task.status == task_pb2.TASK_STATUS_RUNNING:
        message.progress.ParseFromString(task.progress)
    if task.started_at is not None:
        message.started_at.CopyFrom(timestamp(task.started_at))
    if task.completed_at is not None:
        message.completed_at.CopyFrom(timestamp(task.completed_at))
    return message
