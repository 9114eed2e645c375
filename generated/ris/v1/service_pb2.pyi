from google.api import annotations_pb2 as _annotations_pb2
from ris.v1 import task_pb2 as _task_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServiceSpec(_message.Message):
    __slots__ = ("name", "image", "replicas", "ports", "environment", "resources", "volumes", "networks", "health_check")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    NETWORKS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    name: str
    image: str
    replicas: int
    ports: _containers.RepeatedCompositeFieldContainer[_task_pb2.PortMapping]
    environment: _containers.ScalarMap[str, str]
    resources: _task_pb2.ResourceConstraints
    volumes: _containers.RepeatedCompositeFieldContainer[_task_pb2.VolumeMapping]
    networks: _containers.RepeatedScalarFieldContainer[str]
    health_check: _task_pb2.HealthCheckConfig
    def __init__(self, name: _Optional[str] = ..., image: _Optional[str] = ..., replicas: _Optional[int] = ..., ports: _Optional[_Iterable[_Union[_task_pb2.PortMapping, _Mapping]]] = ..., environment: _Optional[_Mapping[str, str]] = ..., resources: _Optional[_Union[_task_pb2.ResourceConstraints, _Mapping]] = ..., volumes: _Optional[_Iterable[_Union[_task_pb2.VolumeMapping, _Mapping]]] = ..., networks: _Optional[_Iterable[str]] = ..., health_check: _Optional[_Union[_task_pb2.HealthCheckConfig, _Mapping]] = ...) -> None: ...

class DeployServiceRequest(_message.Message):
    __slots__ = ("client_id", "service", "timeout")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    service: ServiceSpec
    timeout: int
    def __init__(self, client_id: _Optional[str] = ..., service: _Optional[_Union[ServiceSpec, _Mapping]] = ..., timeout: _Optional[int] = ...) -> None: ...

class DeployServiceResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class ScaleServiceRequest(_message.Message):
    __slots__ = ("client_id", "service_name", "replicas", "timeout")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    service_name: str
    replicas: int
    timeout: int
    def __init__(self, client_id: _Optional[str] = ..., service_name: _Optional[str] = ..., replicas: _Optional[int] = ..., timeout: _Optional[int] = ...) -> None: ...

class ScaleServiceResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class GetServiceStatusRequest(_message.Message):
    __slots__ = ("client_id", "service_name")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    service_name: str
    def __init__(self, client_id: _Optional[str] = ..., service_name: _Optional[str] = ...) -> None: ...

class GetServiceStatusResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...
