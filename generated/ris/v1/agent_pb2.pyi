import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ris.v1 import common_pb2 as _common_pb2
from ris.v1 import task_pb2 as _task_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollRequest(_message.Message):
    __slots__ = ("token", "csr_pem", "hostname")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    token: str
    csr_pem: str
    hostname: str
    def __init__(self, token: _Optional[str] = ..., csr_pem: _Optional[str] = ..., hostname: _Optional[str] = ...) -> None: ...

class EnrollResponse(_message.Message):
    __slots__ = ("certificate_pem", "ca_certificate_pem", "unique_client_id", "tenant_code", "client_config", "expires_at")
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    certificate_pem: str
    ca_certificate_pem: str
    unique_client_id: str
    tenant_code: str
    client_config: _common_pb2.ClientConfig
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, certificate_pem: _Optional[str] = ..., ca_certificate_pem: _Optional[str] = ..., unique_client_id: _Optional[str] = ..., tenant_code: _Optional[str] = ..., client_config: _Optional[_Union[_common_pb2.ClientConfig, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunningTask(_message.Message):
    __slots__ = ("task_id", "attempt")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class Registration(_message.Message):
    __slots__ = ("hostname", "version", "capabilities", "max_concurrent_tasks", "running", "host_type", "unique_client_id", "tenant_code")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_TASKS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    HOST_TYPE_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    version: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    max_concurrent_tasks: int
    running: _containers.RepeatedCompositeFieldContainer[RunningTask]
    host_type: str
    unique_client_id: str
    tenant_code: str
    def __init__(self, hostname: _Optional[str] = ..., version: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., max_concurrent_tasks: _Optional[int] = ..., running: _Optional[_Iterable[_Union[RunningTask, _Mapping]]] = ..., host_type: _Optional[str] = ..., unique_client_id: _Optional[str] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("sequence", "resource_usage", "running_tasks")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_USAGE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    resource_usage: _common_pb2.ResourceUsage
    running_tasks: int
    def __init__(self, sequence: _Optional[int] = ..., resource_usage: _Optional[_Union[_common_pb2.ResourceUsage, _Mapping]] = ..., running_tasks: _Optional[int] = ...) -> None: ...

class ProgressReport(_message.Message):
    __slots__ = ("task_id", "attempt", "progress")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    progress: _task_pb2.TaskProgress
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., progress: _Optional[_Union[_task_pb2.TaskProgress, _Mapping]] = ...) -> None: ...

class ResultReport(_message.Message):
    __slots__ = ("task_id", "attempt", "status", "result", "started_at", "completed_at")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    status: _task_pb2.TaskStatus
    result: _task_pb2.TaskResult
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., status: _Optional[_Union[_task_pb2.TaskStatus, str]] = ..., result: _Optional[_Union[_task_pb2.TaskResult, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ("registration", "heartbeat", "progress", "result")
    REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    registration: Registration
    heartbeat: Heartbeat
    progress: ProgressReport
    result: ResultReport
    def __init__(self, registration: _Optional[_Union[Registration, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., progress: _Optional[_Union[ProgressReport, _Mapping]] = ..., result: _Optional[_Union[ResultReport, _Mapping]] = ...) -> None: ...

class RegistrationAck(_message.Message):
    __slots__ = ("unique_client_id", "tenant_code", "heartbeat_interval", "connection_timeout", "session_id", "certificate_serial")
    UNIQUE_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SERIAL_FIELD_NUMBER: _ClassVar[int]
    unique_client_id: str
    tenant_code: str
    heartbeat_interval: int
    connection_timeout: int
    session_id: str
    certificate_serial: str
    def __init__(self, unique_client_id: _Optional[str] = ..., tenant_code: _Optional[str] = ..., heartbeat_interval: _Optional[int] = ..., connection_timeout: _Optional[int] = ..., session_id: _Optional[str] = ..., certificate_serial: _Optional[str] = ...) -> None: ...

class HeartbeatAck(_message.Message):
    __slots__ = ("sequence", "server_time")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, sequence: _Optional[int] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskAssignment(_message.Message):
    __slots__ = ("task_id", "attempt", "spec", "timeout")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    spec: _task_pb2.TaskSpec
    timeout: int
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., spec: _Optional[_Union[_task_pb2.TaskSpec, _Mapping]] = ..., timeout: _Optional[int] = ...) -> None: ...

class TaskCancellation(_message.Message):
    __slots__ = ("task_id", "attempt", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ResultAck(_message.Message):
    __slots__ = ("task_id", "attempt")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class Drain(_message.Message):
    __slots__ = ("reason", "reconnect_after")
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECONNECT_AFTER_FIELD_NUMBER: _ClassVar[int]
    reason: str
    reconnect_after: int
    def __init__(self, reason: _Optional[str] = ..., reconnect_after: _Optional[int] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("registration_ack", "heartbeat_ack", "assignment", "cancellation", "result_ack", "drain")
    REGISTRATION_ACK_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_ACK_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_FIELD_NUMBER: _ClassVar[int]
    RESULT_ACK_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    registration_ack: RegistrationAck
    heartbeat_ack: HeartbeatAck
    assignment: TaskAssignment
    cancellation: TaskCancellation
    result_ack: ResultAck
    drain: Drain
    def __init__(self, registration_ack: _Optional[_Union[RegistrationAck, _Mapping]] = ..., heartbeat_ack: _Optional[_Union[HeartbeatAck, _Mapping]] = ..., assignment: _Optional[_Union[TaskAssignment, _Mapping]] = ..., cancellation: _Optional[_Union[TaskCancellation, _Mapping]] = ..., result_ack: _Optional[_Union[ResultAck, _Mapping]] = ..., drain: _Optional[_Union[Drain, _Mapping]] = ...) -> None: ...

class RenewCertificateRequest(_message.Message):
    __slots__ = ("csr_pem",)
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    csr_pem: str
    def __init__(self, csr_pem: _Optional[str] = ...) -> None: ...

class RenewCertificateResponse(_message.Message):
    __slots__ = ("certificate_pem", "ca_certificate_pem", "expires_at", "serial")
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    certificate_pem: str
    ca_certificate_pem: str
    expires_at: _timestamp_pb2.Timestamp
    serial: str
    def __init__(self, certificate_pem: _Optional[str] = ..., ca_certificate_pem: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., serial: _Optional[str] = ...) -> None: ...
