import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ris.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_PENDING: _ClassVar[TaskStatus]
    TASK_STATUS_QUEUED: _ClassVar[TaskStatus]
    TASK_STATUS_RUNNING: _ClassVar[TaskStatus]
    TASK_STATUS_COMPLETED: _ClassVar[TaskStatus]
    TASK_STATUS_FAILED: _ClassVar[TaskStatus]
    TASK_STATUS_CANCELLED: _ClassVar[TaskStatus]
    TASK_STATUS_TIMEOUT: _ClassVar[TaskStatus]

class TaskPriority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_PRIORITY_UNSPECIFIED: _ClassVar[TaskPriority]
    TASK_PRIORITY_LOWEST: _ClassVar[TaskPriority]
    TASK_PRIORITY_LOW: _ClassVar[TaskPriority]
    TASK_PRIORITY_NORMAL: _ClassVar[TaskPriority]
    TASK_PRIORITY_HIGH: _ClassVar[TaskPriority]
    TASK_PRIORITY_CRITICAL: _ClassVar[TaskPriority]

class TaskType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_TYPE_UNSPECIFIED: _ClassVar[TaskType]
    TASK_TYPE_HTTP_REQUEST: _ClassVar[TaskType]
    TASK_TYPE_COMMAND: _ClassVar[TaskType]
    TASK_TYPE_DOCKER_SERVICE: _ClassVar[TaskType]

class HttpAuthType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HTTP_AUTH_TYPE_UNSPECIFIED: _ClassVar[HttpAuthType]
    HTTP_AUTH_TYPE_BASIC: _ClassVar[HttpAuthType]
    HTTP_AUTH_TYPE_BEARER: _ClassVar[HttpAuthType]
    HTTP_AUTH_TYPE_API_KEY: _ClassVar[HttpAuthType]

class DockerAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOCKER_ACTION_UNSPECIFIED: _ClassVar[DockerAction]
    DOCKER_ACTION_DEPLOY: _ClassVar[DockerAction]
    DOCKER_ACTION_SCALE: _ClassVar[DockerAction]
    DOCKER_ACTION_REMOVE: _ClassVar[DockerAction]
    DOCKER_ACTION_STATUS: _ClassVar[DockerAction]
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_PENDING: TaskStatus
TASK_STATUS_QUEUED: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_COMPLETED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_STATUS_CANCELLED: TaskStatus
TASK_STATUS_TIMEOUT: TaskStatus
TASK_PRIORITY_UNSPECIFIED: TaskPriority
TASK_PRIORITY_LOWEST: TaskPriority
TASK_PRIORITY_LOW: TaskPriority
TASK_PRIORITY_NORMAL: TaskPriority
TASK_PRIORITY_HIGH: TaskPriority
TASK_PRIORITY_CRITICAL: TaskPriority
TASK_TYPE_UNSPECIFIED: TaskType
TASK_TYPE_HTTP_REQUEST: TaskType
TASK_TYPE_COMMAND: TaskType
TASK_TYPE_DOCKER_SERVICE: TaskType
HTTP_AUTH_TYPE_UNSPECIFIED: HttpAuthType
HTTP_AUTH_TYPE_BASIC: HttpAuthType
HTTP_AUTH_TYPE_BEARER: HttpAuthType
HTTP_AUTH_TYPE_API_KEY: HttpAuthType
DOCKER_ACTION_UNSPECIFIED: DockerAction
DOCKER_ACTION_DEPLOY: DockerAction
DOCKER_ACTION_SCALE: DockerAction
DOCKER_ACTION_REMOVE: DockerAction
DOCKER_ACTION_STATUS: DockerAction

class HttpAuth(_message.Message):
    __slots__ = ("type", "username", "password", "bearer_token", "api_key", "custom_header")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    BEARER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_HEADER_FIELD_NUMBER: _ClassVar[int]
    type: HttpAuthType
    username: str
    password: str
    bearer_token: str
    api_key: str
    custom_header: str
    def __init__(self, type: _Optional[_Union[HttpAuthType, str]] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., bearer_token: _Optional[str] = ..., api_key: _Optional[str] = ..., custom_header: _Optional[str] = ...) -> None: ...

class HttpValidation(_message.Message):
    __slots__ = ("expected_status", "body_contains")
    EXPECTED_STATUS_FIELD_NUMBER: _ClassVar[int]
    BODY_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    expected_status: _containers.RepeatedScalarFieldContainer[int]
    body_contains: str
    def __init__(self, expected_status: _Optional[_Iterable[int]] = ..., body_contains: _Optional[str] = ...) -> None: ...

class HttpRequestTask(_message.Message):
    __slots__ = ("method", "url", "headers", "body", "timeout", "retries", "auth", "validation", "verify_tls")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    VERIFY_TLS_FIELD_NUMBER: _ClassVar[int]
    method: str
    url: str
    headers: _containers.ScalarMap[str, str]
    body: str
    timeout: int
    retries: int
    auth: HttpAuth
    validation: HttpValidation
    verify_tls: bool
    def __init__(self, method: _Optional[str] = ..., url: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., body: _Optional[str] = ..., timeout: _Optional[int] = ..., retries: _Optional[int] = ..., auth: _Optional[_Union[HttpAuth, _Mapping]] = ..., validation: _Optional[_Union[HttpValidation, _Mapping]] = ..., verify_tls: _Optional[bool] = ...) -> None: ...

class CommandTask(_message.Message):
    __slots__ = ("command", "args", "working_dir", "environment", "timeout", "run_as_user", "privileged")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RUN_AS_USER_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGED_FIELD_NUMBER: _ClassVar[int]
    command: str
    args: _containers.RepeatedScalarFieldContainer[str]
    working_dir: str
    environment: _containers.ScalarMap[str, str]
    timeout: int
    run_as_user: str
    privileged: bool
    def __init__(self, command: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., working_dir: _Optional[str] = ..., environment: _Optional[_Mapping[str, str]] = ..., timeout: _Optional[int] = ..., run_as_user: _Optional[str] = ..., privileged: _Optional[bool] = ...) -> None: ...

class PortMapping(_message.Message):
    __slots__ = ("container_port", "host_port", "protocol")
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_PORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    container_port: int
    host_port: int
    protocol: str
    def __init__(self, container_port: _Optional[int] = ..., host_port: _Optional[int] = ..., protocol: _Optional[str] = ...) -> None: ...

class VolumeMapping(_message.Message):
    __slots__ = ("source", "target", "read_only")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    read_only: bool
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ..., read_only: _Optional[bool] = ...) -> None: ...

class ResourceAmounts(_message.Message):
    __slots__ = ("memory", "cpu")
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    memory: str
    cpu: str
    def __init__(self, memory: _Optional[str] = ..., cpu: _Optional[str] = ...) -> None: ...

class ResourceConstraints(_message.Message):
    __slots__ = ("limits", "reservations")
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    RESERVATIONS_FIELD_NUMBER: _ClassVar[int]
    limits: ResourceAmounts
    reservations: ResourceAmounts
    def __init__(self, limits: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., reservations: _Optional[_Union[ResourceAmounts, _Mapping]] = ...) -> None: ...

class HealthCheckConfig(_message.Message):
    __slots__ = ("test", "interval", "timeout", "retries")
    TEST_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    test: _containers.RepeatedScalarFieldContainer[str]
    interval: int
    timeout: int
    retries: int
    def __init__(self, test: _Optional[_Iterable[str]] = ..., interval: _Optional[int] = ..., timeout: _Optional[int] = ..., retries: _Optional[int] = ...) -> None: ...

class DockerServiceTask(_message.Message):
    __slots__ = ("action", "service_name", "image", "replicas", "ports", "environment", "volumes", "networks", "resources", "health_check")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    NETWORKS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    action: DockerAction
    service_name: str
    image: str
    replicas: int
    ports: _containers.RepeatedCompositeFieldContainer[PortMapping]
    environment: _containers.ScalarMap[str, str]
    volumes: _containers.RepeatedCompositeFieldContainer[VolumeMapping]
    networks: _containers.RepeatedScalarFieldContainer[str]
    resources: ResourceConstraints
    health_check: HealthCheckConfig
    def __init__(self, action: _Optional[_Union[DockerAction, str]] = ..., service_name: _Optional[str] = ..., image: _Optional[str] = ..., replicas: _Optional[int] = ..., ports: _Optional[_Iterable[_Union[PortMapping, _Mapping]]] = ..., environment: _Optional[_Mapping[str, str]] = ..., volumes: _Optional[_Iterable[_Union[VolumeMapping, _Mapping]]] = ..., networks: _Optional[_Iterable[str]] = ..., resources: _Optional[_Union[ResourceConstraints, _Mapping]] = ..., health_check: _Optional[_Union[HealthCheckConfig, _Mapping]] = ...) -> None: ...

class TaskSpec(_message.Message):
    __slots__ = ("type", "http_request", "command", "docker_service")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    HTTP_REQUEST_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    DOCKER_SERVICE_FIELD_NUMBER: _ClassVar[int]
    type: TaskType
    http_request: HttpRequestTask
    command: CommandTask
    docker_service: DockerServiceTask
    def __init__(self, type: _Optional[_Union[TaskType, str]] = ..., http_request: _Optional[_Union[HttpRequestTask, _Mapping]] = ..., command: _Optional[_Union[CommandTask, _Mapping]] = ..., docker_service: _Optional[_Union[DockerServiceTask, _Mapping]] = ...) -> None: ...

class HttpResponse(_message.Message):
    __slots__ = ("status_code", "headers", "body", "body_truncated")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    BODY_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    status_code: int
    headers: _containers.ScalarMap[str, str]
    body: str
    body_truncated: bool
    def __init__(self, status_code: _Optional[int] = ..., headers: _Optional[_Mapping[str, str]] = ..., body: _Optional[str] = ..., body_truncated: _Optional[bool] = ...) -> None: ...

class CommandOutput(_message.Message):
    __slots__ = ("exit_code", "stdout", "stderr", "stdout_truncated", "stderr_truncated")
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    def __init__(self, exit_code: _Optional[int] = ..., stdout: _Optional[str] = ..., stderr: _Optional[str] = ..., stdout_truncated: _Optional[bool] = ..., stderr_truncated: _Optional[bool] = ...) -> None: ...

class ServiceState(_message.Message):
    __slots__ = ("service_name", "image", "replicas_desired", "replicas_running", "state", "message")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_DESIRED_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    image: str
    replicas_desired: int
    replicas_running: int
    state: str
    message: str
    def __init__(self, service_name: _Optional[str] = ..., image: _Optional[str] = ..., replicas_desired: _Optional[int] = ..., replicas_running: _Optional[int] = ..., state: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("http_response", "command_output", "service_state", "execution_time", "error", "retryable")
    HTTP_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_STATE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    http_response: HttpResponse
    command_output: CommandOutput
    service_state: ServiceState
    execution_time: int
    error: str
    retryable: bool
    def __init__(self, http_response: _Optional[_Union[HttpResponse, _Mapping]] = ..., command_output: _Optional[_Union[CommandOutput, _Mapping]] = ..., service_state: _Optional[_Union[ServiceState, _Mapping]] = ..., execution_time: _Optional[int] = ..., error: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class TaskProgress(_message.Message):
    __slots__ = ("percent", "message", "updated_at")
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    percent: int
    message: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, percent: _Optional[int] = ..., message: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("task_id", "type", "status", "priority", "client_id", "tenant_code", "user_id", "payload", "result", "created_at", "started_at", "completed_at", "timeout", "attempt", "max_attempts", "progress", "dead_lettered", "retry_on_failure")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    RETRY_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    type: TaskType
    status: TaskStatus
    priority: TaskPriority
    client_id: str
    tenant_code: str
    user_id: str
    payload: TaskSpec
    result: TaskResult
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    timeout: int
    attempt: int
    max_attempts: int
    progress: TaskProgress
    dead_lettered: bool
    retry_on_failure: bool
    def __init__(self, task_id: _Optional[str] = ..., type: _Optional[_Union[TaskType, str]] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., priority: _Optional[_Union[TaskPriority, str]] = ..., client_id: _Optional[str] = ..., tenant_code: _Optional[str] = ..., user_id: _Optional[str] = ..., payload: _Optional[_Union[TaskSpec, _Mapping]] = ..., result: _Optional[_Union[TaskResult, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeout: _Optional[int] = ..., attempt: _Optional[int] = ..., max_attempts: _Optional[int] = ..., progress: _Optional[_Union[TaskProgress, _Mapping]] = ..., dead_lettered: _Optional[bool] = ..., retry_on_failure: _Optional[bool] = ...) -> None: ...

class ExecuteTaskRequest(_message.Message):
    __slots__ = ("client_id", "task", "timeout", "priority", "run_async", "max_attempts", "retry_on_failure")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    RUN_ASYNC_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RETRY_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    task: TaskSpec
    timeout: int
    priority: TaskPriority
    run_async: bool
    max_attempts: int
    retry_on_failure: bool
    def __init__(self, client_id: _Optional[str] = ..., task: _Optional[_Union[TaskSpec, _Mapping]] = ..., timeout: _Optional[int] = ..., priority: _Optional[_Union[TaskPriority, str]] = ..., run_async: _Optional[bool] = ..., max_attempts: _Optional[int] = ..., retry_on_failure: _Optional[bool] = ...) -> None: ...

class ExecuteTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("status", "client_id", "limit", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: TaskStatus
    client_id: str
    limit: int
    page_token: str
    def __init__(self, status: _Optional[_Union[TaskStatus, str]] = ..., client_id: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("task_id", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("limit", "page_token")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    limit: int
    page_token: str
    def __init__(self, limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RedriveTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class RedriveTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...
