from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_READONLY: _ClassVar[Role]
    ROLE_OPERATOR: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
    ROLE_SUPERADMIN: _ClassVar[Role]
ROLE_UNSPECIFIED: Role
ROLE_READONLY: Role
ROLE_OPERATOR: Role
ROLE_ADMIN: Role
ROLE_SUPERADMIN: Role

class ResourceUsage(_message.Message):
    __slots__ = ("cpu", "memory", "disk")
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    DISK_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    memory: float
    disk: float
    def __init__(self, cpu: _Optional[float] = ..., memory: _Optional[float] = ..., disk: _Optional[float] = ...) -> None: ...

class ReconnectPolicy(_message.Message):
    __slots__ = ("max_attempts", "backoff_strategy", "initial_delay", "max_delay")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    INITIAL_DELAY_FIELD_NUMBER: _ClassVar[int]
    MAX_DELAY_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    backoff_strategy: str
    initial_delay: int
    max_delay: int
    def __init__(self, max_attempts: _Optional[int] = ..., backoff_strategy: _Optional[str] = ..., initial_delay: _Optional[int] = ..., max_delay: _Optional[int] = ...) -> None: ...

class ClientConfig(_message.Message):
    __slots__ = ("server_host", "websocket_path", "heartbeat_interval", "reconnect_policy")
    SERVER_HOST_FIELD_NUMBER: _ClassVar[int]
    WEBSOCKET_PATH_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    RECONNECT_POLICY_FIELD_NUMBER: _ClassVar[int]
    server_host: str
    websocket_path: str
    heartbeat_interval: int
    reconnect_policy: ReconnectPolicy
    def __init__(self, server_host: _Optional[str] = ..., websocket_path: _Optional[str] = ..., heartbeat_interval: _Optional[int] = ..., reconnect_policy: _Optional[_Union[ReconnectPolicy, _Mapping]] = ...) -> None: ...
