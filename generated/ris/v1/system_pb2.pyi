import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DatabaseHealth(_message.Message):
    __slots__ = ("status", "response_time", "type")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    status: str
    response_time: int
    type: str
    def __init__(self, status: _Optional[str] = ..., response_time: _Optional[int] = ..., type: _Optional[str] = ...) -> None: ...

class ClientsHealth(_message.Message):
    __slots__ = ("total", "connected", "disconnected", "last_heartbeat")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    DISCONNECTED_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    total: int
    connected: int
    disconnected: int
    last_heartbeat: _timestamp_pb2.Timestamp
    def __init__(self, total: _Optional[int] = ..., connected: _Optional[int] = ..., disconnected: _Optional[int] = ..., last_heartbeat: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TasksHealth(_message.Message):
    __slots__ = ("running", "queued", "completed_today", "failed_today")
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_TODAY_FIELD_NUMBER: _ClassVar[int]
    FAILED_TODAY_FIELD_NUMBER: _ClassVar[int]
    running: int
    queued: int
    completed_today: int
    failed_today: int
    def __init__(self, running: _Optional[int] = ..., queued: _Optional[int] = ..., completed_today: _Optional[int] = ..., failed_today: _Optional[int] = ...) -> None: ...

class HealthComponents(_message.Message):
    __slots__ = ("database", "clients", "tasks")
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    database: DatabaseHealth
    clients: ClientsHealth
    tasks: TasksHealth
    def __init__(self, database: _Optional[_Union[DatabaseHealth, _Mapping]] = ..., clients: _Optional[_Union[ClientsHealth, _Mapping]] = ..., tasks: _Optional[_Union[TasksHealth, _Mapping]] = ...) -> None: ...

class SystemUsage(_message.Message):
    __slots__ = ("cpu_usage", "memory_usage", "disk_usage")
    CPU_USAGE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_FIELD_NUMBER: _ClassVar[int]
    DISK_USAGE_FIELD_NUMBER: _ClassVar[int]
    cpu_usage: float
    memory_usage: float
    disk_usage: float
    def __init__(self, cpu_usage: _Optional[float] = ..., memory_usage: _Optional[float] = ..., disk_usage: _Optional[float] = ...) -> None: ...

class GetHealthResponse(_message.Message):
    __slots__ = ("status", "version", "uptime", "timestamp", "components", "system")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    status: str
    version: str
    uptime: str
    timestamp: _timestamp_pb2.Timestamp
    components: HealthComponents
    system: SystemUsage
    def __init__(self, status: _Optional[str] = ..., version: _Optional[str] = ..., uptime: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., components: _Optional[_Union[HealthComponents, _Mapping]] = ..., system: _Optional[_Union[SystemUsage, _Mapping]] = ...) -> None: ...
