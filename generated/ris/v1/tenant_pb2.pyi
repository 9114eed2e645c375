import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ris.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TenantStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TENANT_STATUS_UNSPECIFIED: _ClassVar[TenantStatus]
    TENANT_STATUS_ACTIVE: _ClassVar[TenantStatus]
    TENANT_STATUS_SUSPENDED: _ClassVar[TenantStatus]
TENANT_STATUS_UNSPECIFIED: TenantStatus
TENANT_STATUS_ACTIVE: TenantStatus
TENANT_STATUS_SUSPENDED: TenantStatus

class ResourceLimits(_message.Message):
    __slots__ = ("max_clients", "max_tasks", "max_storage_gb", "max_bandwidth_mbs")
    MAX_CLIENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    MAX_STORAGE_GB_FIELD_NUMBER: _ClassVar[int]
    MAX_BANDWIDTH_MBS_FIELD_NUMBER: _ClassVar[int]
    max_clients: int
    max_tasks: int
    max_storage_gb: int
    max_bandwidth_mbs: int
    def __init__(self, max_clients: _Optional[int] = ..., max_tasks: _Optional[int] = ..., max_storage_gb: _Optional[int] = ..., max_bandwidth_mbs: _Optional[int] = ...) -> None: ...

class TenantSettings(_message.Message):
    __slots__ = ("timezone", "language", "features")
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    timezone: str
    language: str
    features: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, timezone: _Optional[str] = ..., language: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ...) -> None: ...

class DatabaseInfo(_message.Message):
    __slots__ = ("type", "host", "port", "database", "username", "ssl", "max_pool_size")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    SSL_FIELD_NUMBER: _ClassVar[int]
    MAX_POOL_SIZE_FIELD_NUMBER: _ClassVar[int]
    type: str
    host: str
    port: int
    database: str
    username: str
    ssl: bool
    max_pool_size: int
    def __init__(self, type: _Optional[str] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., database: _Optional[str] = ..., username: _Optional[str] = ..., ssl: _Optional[bool] = ..., max_pool_size: _Optional[int] = ...) -> None: ...

class Tenant(_message.Message):
    __slots__ = ("id", "code", "name", "description", "status", "database_info", "settings", "limits", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DATABASE_INFO_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    code: str
    name: str
    description: str
    status: TenantStatus
    database_info: DatabaseInfo
    settings: TenantSettings
    limits: ResourceLimits
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., code: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[_Union[TenantStatus, str]] = ..., database_info: _Optional[_Union[DatabaseInfo, _Mapping]] = ..., settings: _Optional[_Union[TenantSettings, _Mapping]] = ..., limits: _Optional[_Union[ResourceLimits, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTenantRequest(_message.Message):
    __slots__ = ("code", "name", "description", "limits", "settings")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    description: str
    limits: ResourceLimits
    settings: TenantSettings
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., limits: _Optional[_Union[ResourceLimits, _Mapping]] = ..., settings: _Optional[_Union[TenantSettings, _Mapping]] = ...) -> None: ...

class CreateTenantResponse(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: Tenant
    def __init__(self, tenant: _Optional[_Union[Tenant, _Mapping]] = ...) -> None: ...

class ListTenantsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTenantsResponse(_message.Message):
    __slots__ = ("tenants",)
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    tenants: _containers.RepeatedCompositeFieldContainer[Tenant]
    def __init__(self, tenants: _Optional[_Iterable[_Union[Tenant, _Mapping]]] = ...) -> None: ...

class GetTenantInfoRequest(_message.Message):
    __slots__ = ("tenant_uuid",)
    TENANT_UUID_FIELD_NUMBER: _ClassVar[int]
    tenant_uuid: str
    def __init__(self, tenant_uuid: _Optional[str] = ...) -> None: ...

class GetTenantInfoResponse(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: Tenant
    def __init__(self, tenant: _Optional[_Union[Tenant, _Mapping]] = ...) -> None: ...

class GetTenantConfigRequest(_message.Message):
    __slots__ = ("tenant_id", "hostname")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    hostname: str
    def __init__(self, tenant_id: _Optional[str] = ..., hostname: _Optional[str] = ...) -> None: ...

class TenantDatabaseConfig(_message.Message):
    __slots__ = ("host", "database")
    HOST_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    host: str
    database: str
    def __init__(self, host: _Optional[str] = ..., database: _Optional[str] = ...) -> None: ...

class TenantInfo(_message.Message):
    __slots__ = ("tenant_code", "tenant_name", "database_config")
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    TENANT_NAME_FIELD_NUMBER: _ClassVar[int]
    DATABASE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    tenant_code: str
    tenant_name: str
    database_config: TenantDatabaseConfig
    def __init__(self, tenant_code: _Optional[str] = ..., tenant_name: _Optional[str] = ..., database_config: _Optional[_Union[TenantDatabaseConfig, _Mapping]] = ...) -> None: ...

class GetTenantConfigResponse(_message.Message):
    __slots__ = ("tenant_info", "client_config", "settings", "limits")
    TENANT_INFO_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    tenant_info: TenantInfo
    client_config: _common_pb2.ClientConfig
    settings: TenantSettings
    limits: ResourceLimits
    def __init__(self, tenant_info: _Optional[_Union[TenantInfo, _Mapping]] = ..., client_config: _Optional[_Union[_common_pb2.ClientConfig, _Mapping]] = ..., settings: _Optional[_Union[TenantSettings, _Mapping]] = ..., limits: _Optional[_Union[ResourceLimits, _Mapping]] = ...) -> None: ...
