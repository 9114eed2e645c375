"""Input checks shared by the services. Each raises InvalidArgument."""

import ipaddress
import re
import uuid
from urllib.parse import urlsplit

from ris.v1 import task_pb2
from ris_server.errors import InvalidArgument

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TENANT_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
MAX_TASK_TIMEOUT = 86400
MAX_PAYLOAD_BYTES = 1 << 20


def require(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required")
    return value


_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def check_text(value: str, field: str, limit: int) -> str:
    """Check free text: a length limit, and no control or bidi override characters.

    Tabs and line breaks are allowed.
    """
    if len(value) > limit:
        raise InvalidArgument(f"{field} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise InvalidArgument(f"{field} contains control characters")
    return value


def check_name(value: str, field: str = "name") -> str:
    if not _NAME.match(value):
        raise InvalidArgument(
            f"{field} {value[:140]!r} is invalid: use 1 to 128 letters, digits, "
            "'.', '-' or '_', starting with a letter or digit"
        )
    return value


_LOGIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+\-]{0,253}$")
PASSWORD_MIN = 12
PASSWORD_MAX = 1024


def check_login_name(value: str, field: str = "email") -> str:
    if not _LOGIN_NAME.match(value):
        raise InvalidArgument(
            f"{field} {value[:80]!r} is invalid: use 1 to 254 letters, digits, "
            "'.', '_', '@', '+' or '-', starting with a letter or digit"
        )
    return value


def check_password(value: str, field: str = "password") -> str:
    """Check a new password's length and that it is not only whitespace.

    The message never contains the password.
    """
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidArgument(
            f"{field} must be {PASSWORD_MIN} to {PASSWORD_MAX} characters, "
            f"got {len(value)}"
        )
    if not value.strip():
        raise InvalidArgument(f"{field} must not be only whitespace")
    return value


def check_tenant_code(value: str, field: str = "code") -> str:
    if not _TENANT_CODE.match(value):
        raise InvalidArgument(
            f"{field} {value[:80]!r} is invalid: use 1 to 63 lowercase letters, "
            "digits, '-' or '_', starting with a letter or digit"
        )
    return value


def check_host(value: str, field: str = "host", required: bool = False) -> str:
    if not value:
        if required:
            raise InvalidArgument(f"{field} is required")
        return value
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _HOSTNAME.match(value):
        raise InvalidArgument(
            f"{field} {value[:260]!r} is not a valid host name or IP address"
        )
    return value


def check_uuid(value: str, field: str) -> str:
    require(value, field)
    try:
        uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(f"{field} {value[:80]!r} is not a UUID") from None
    return value


def check_page(page: int, per_page: int) -> tuple[int, int]:
    page = page or 1
    per_page = per_page or 10
    if page < 1:
        raise InvalidArgument(f"page must be 1 or more, got {page}")
    if not 1 <= per_page <= 1000:
        raise InvalidArgument(f"per_page must be between 1 and 1000, got {per_page}")
    return page, per_page


def check_limit(limit: int) -> int:
    if limit == 0:
        return 50
    if not 1 <= limit <= 1000:
        raise InvalidArgument(f"limit must be between 1 and 1000, got {limit}")
    return limit


def check_timeout(timeout: int, default: float, field: str = "timeout") -> int:
    if timeout == 0:
        return max(1, int(default))
    if not 1 <= timeout <= MAX_TASK_TIMEOUT:
        raise InvalidArgument(
            f"{field} must be between 1 and {MAX_TASK_TIMEOUT} seconds, got {timeout}"
        )
    return timeout


def check_priority(priority: int) -> int:
    if priority == task_pb2.TASK_PRIORITY_UNSPECIFIED:
        return task_pb2.TASK_PRIORITY_NORMAL
    if not 1 <= priority <= 5:
        raise InvalidArgument(
            f"priority must be 1 to 5 or one of lowest, low, normal, high, "
            f"critical; got {priority}"
        )
    return priority


_TYPE_OF_PAYLOAD = {
    "http_request": task_pb2.TASK_TYPE_HTTP_REQUEST,
    "command": task_pb2.TASK_TYPE_COMMAND,
    "docker_service": task_pb2.TASK_TYPE_DOCKER_SERVICE,
}


def check_task_spec(spec: task_pb2.TaskSpec) -> None:
    """Check a task payload; raise InvalidArgument naming the bad field."""
    if spec.ByteSize() > MAX_PAYLOAD_BYTES:
        raise InvalidArgument(f"task is larger than {MAX_PAYLOAD_BYTES} bytes")
    payload = spec.WhichOneof("payload")
    if spec.type == task_pb2.TASK_TYPE_UNSPECIFIED:
        raise InvalidArgument(
            "task.type is required: one of http_request, command, docker_service"
        )
    if spec.type not in _TYPE_OF_PAYLOAD.values():
        raise InvalidArgument(f"task.type {spec.type} is not a known task type")
    if payload is None:
        raise InvalidArgument("task has no payload for its type")
    if _TYPE_OF_PAYLOAD[payload] != spec.type:
        raise InvalidArgument(
            f"task.type {task_pb2.TaskType.Name(spec.type)} does not match "
            f"the {payload} payload"
        )
    if payload == "http_request":
        _check_http(spec.http_request)
    elif payload == "command":
        _check_command(spec.command)
    else:
        check_docker(spec.docker_service)


def _check_http(task: task_pb2.HttpRequestTask) -> None:
    method = task.method.upper() or "GET"
    if method not in HTTP_METHODS:
        raise InvalidArgument(
            f"task.method {task.method[:20]!r} is not one of "
            f"{', '.join(sorted(HTTP_METHODS))}"
        )
    task.method = method
    require(task.url, "task.url")
    check_text(task.url, "task.url", 8192)
    parts = urlsplit(task.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(
            f"task.url {task.url[:200]!r} must be an absolute http or https URL"
        )
    if not 0 <= task.timeout <= MAX_TASK_TIMEOUT:
        raise InvalidArgument(f"task.timeout must be 0 to {MAX_TASK_TIMEOUT} seconds")
    if not 0 <= task.retries <= 10:
        raise InvalidArgument(f"task.retries must be 0 to 10, got {task.retries}")
    for name, value in task.headers.items():
        if (
            not name
            or any(c in name for c in "\r\n:")
            or any(c in value for c in "\r\n")
        ):
            raise InvalidArgument(f"task.headers has an invalid header {name[:60]!r}")
    auth = task.auth
    if auth.type == task_pb2.HTTP_AUTH_TYPE_BASIC and not auth.username:
        raise InvalidArgument("task.auth.username is required for basic auth")
    if auth.type == task_pb2.HTTP_AUTH_TYPE_BEARER and not auth.bearer_token:
        raise InvalidArgument("task.auth.bearer_token is required for bearer auth")
    if auth.type == task_pb2.HTTP_AUTH_TYPE_API_KEY and not auth.api_key:
        raise InvalidArgument("task.auth.api_key is required for api_key auth")
    if auth.type not in task_pb2.HttpAuthType.values():
        raise InvalidArgument(f"task.auth.type {auth.type} is not a known auth type")
    for code in task.validation.expected_status:
        if not 100 <= code <= 599:
            raise InvalidArgument(f"task.validation.expected_status {code} is invalid")


def _check_command(task: task_pb2.CommandTask) -> None:
    require(task.command, "task.command")
    check_text(task.command, "task.command", 4096)
    if "\x00" in task.command or any("\x00" in arg for arg in task.args):
        raise InvalidArgument("task.command and task.args must not contain NUL")
    if len(task.args) > 1024:
        raise InvalidArgument("task.args has more than 1024 arguments")
    if not 0 <= task.timeout <= MAX_TASK_TIMEOUT:
        raise InvalidArgument(f"task.timeout must be 0 to {MAX_TASK_TIMEOUT} seconds")
    for name in task.environment:
        if not name or "=" in name or "\x00" in name:
            raise InvalidArgument(f"task.environment has an invalid name {name[:60]!r}")


def check_docker(task: task_pb2.DockerServiceTask) -> None:
    if task.action == task_pb2.DOCKER_ACTION_UNSPECIFIED:
        raise InvalidArgument(
            "task.action is required: one of deploy, scale, remove, status"
        )
    if task.action not in task_pb2.DockerAction.values():
        raise InvalidArgument(f"task.action {task.action} is not a known action")
    if not _SERVICE_NAME.match(task.service_name):
        raise InvalidArgument(
            f"service name {task.service_name[:80]!r} is invalid: use 1 to 63 "
            "letters, digits, '.', '-' or '_'"
        )
    if task.action == task_pb2.DOCKER_ACTION_DEPLOY:
        require(task.image, "service image")
    if not 0 <= task.replicas <= 1000:
        raise InvalidArgument(f"replicas must be 0 to 1000, got {task.replicas}")
    for port in task.ports:
        if not 1 <= port.container_port <= 65535 or not 0 <= port.host_port <= 65535:
            raise InvalidArgument("ports must be between 1 and 65535")
        if port.protocol not in ("", "tcp", "udp"):
            raise InvalidArgument(
                f"port protocol {port.protocol[:10]!r} is not tcp or udp"
            )
