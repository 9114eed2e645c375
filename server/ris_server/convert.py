"""Conversions between domain records and protobuf messages."""

import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


# Header and environment names that carry credentials, matched by substring
# after lowercasing.
_SECRET_NAME_PARTS = (
    "authorization",
    "cookie",
    "password",
    "passwd",
    "secret",
    "token",
    "api-key",
    "api_key",
    "apikey",
    "private",
    "credential",
    "session",
)


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_NAME_PARTS)


# Query parameter names that carry credentials besides those is_secret_name
# matches: the last word of the name, in lower case ("X-Amz-Signature").
_SECRET_QUERY_WORDS = frozenset({"key", "sig", "signature", "code", "auth"})


def _is_secret_parameter(name: str) -> bool:
    last_word = name.lower().replace("-", "_").rsplit("_", 1)[-1]
    return is_secret_name(name) or last_word in _SECRET_QUERY_WORDS


def _redact_url(url: str) -> str:
    """Replace a URL's password and secret-named query values with the mark."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username}:{_SECRET_MARK}@{host}")
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(_is_secret_parameter(name) for name, _ in pairs):
            redacted = [
                (name, _SECRET_MARK if _is_secret_parameter(name) else value)
                for name, value in pairs
            ]
            parts = parts._replace(query=urlencode(redacted))
    return urlunsplit(parts)


def _redact_json(value):
    if isinstance(value, dict):
        return {
            key: _SECRET_MARK if is_secret_name(str(key)) else _redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(item) for item in value]
    return value


def _redact_body(body: str, content_type: str) -> str:
    """Redact secret-named fields of a JSON or form body; other text is kept.

    A body in another format is returned as it is, because the hub cannot
    tell which part of it is a credential.
    """
    stripped = body.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            document = json.loads(body)
        except ValueError:
            return body
        redacted = _redact_json(document)
        return body if redacted == document else json.dumps(redacted)
    if "x-www-form-urlencoded" in content_type.lower():
        pairs = parse_qsl(body, keep_blank_values=True)
        if any(is_secret_name(name) for name, _ in pairs):
            return urlencode(
                [(n, _SECRET_MARK if is_secret_name(n) else v) for n, v in pairs]
            )
    return body


def redact_spec(spec: task_pb2.TaskSpec) -> task_pb2.TaskSpec:
    """Return a copy of a task payload with credentials replaced by a mark.

    Covers the auth fields, headers and environment variables whose names
    look like credentials, a password and secret-named query values in the
    URL, and secret-named fields of a JSON or form body.
    """
    copy = task_pb2.TaskSpec()
    copy.CopyFrom(spec)
    if copy.HasField("http_request"):
        http = copy.http_request
        for name in ("password", "bearer_token", "api_key"):
            if getattr(http.auth, name):
                setattr(http.auth, name, _SECRET_MARK)
        for header in list(http.headers):
            if is_secret_name(header):
                http.headers[header] = _SECRET_MARK
        http.url = _redact_url(http.url)
        content_type = next(
            (v for k, v in http.headers.items() if k.lower() == "content-type"), ""
        )
        http.body = _redact_body(http.body, content_type)
    for payload in ("command", "docker_service"):
        if copy.HasField(payload):
            environment = getattr(copy, payload).environment
            for name in list(environment):
                if is_secret_name(name):
                    environment[name] = _SECRET_MARK
    return copy


def cap_result(result: task_pb2.TaskResult, limit: int) -> task_pb2.TaskResult:
    """Cut the largest text outputs of a result until it fits in `limit` bytes.

    Each cut halves the longest of body, stdout and stderr and sets its
    truncated flag. The agent applies its own output limit first; this
    bounds what a misbehaving agent can make the hub store and return.
    """
    fields = (
        ("http_response", "body", "body_truncated"),
        ("command_output", "stdout", "stdout_truncated"),
        ("command_output", "stderr", "stderr_truncated"),
    )
    while result.ByteSize() > limit:
        candidates = [
            (len(getattr(getattr(result, parent), name)), parent, name, flag)
            for parent, name, flag in fields
            if result.HasField(parent)
        ]
        size, parent, name, flag = max(candidates, default=(0, "", "", ""))
        if size == 0:
            result.Clear()
            result.error = f"the agent's result exceeded {limit} bytes"
            break
        message = getattr(result, parent)
        text = getattr(message, name)
        setattr(message, name, text[: len(text) // 2])
        setattr(message, flag, True)
    return result


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
        retry_on_failure=task.retry_on_failure,
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
