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

class ClientStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLIENT_STATUS_UNSPECIFIED: _ClassVar[ClientStatus]
    CLIENT_STATUS_ACTIVE: _ClassVar[ClientStatus]
    CLIENT_STATUS_INACTIVE: _ClassVar[ClientStatus]

class ConnectionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONNECTION_STATUS_UNSPECIFIED: _ClassVar[ConnectionStatus]
    CONNECTION_STATUS_CONNECTED: _ClassVar[ConnectionStatus]
    CONNECTION_STATUS_DISCONNECTED: _ClassVar[ConnectionStatus]
CLIENT_STATUS_UNSPECIFIED: ClientStatus
CLIENT_STATUS_ACTIVE: ClientStatus
CLIENT_STATUS_INACTIVE: ClientStatus
CONNECTION_STATUS_UNSPECIFIED: ConnectionStatus
CONNECTION_STATUS_CONNECTED: ConnectionStatus
CONNECTION_STATUS_DISCONNECTED: ConnectionStatus

class Client(_message.Message):
    __slots__ = ("id", "name", "description", "host", "status", "connection_status", "version", "unique_client_id", "tenant_code", "created_date", "updated_date", "last_seen", "capabilities", "ip_address", "resource_usage", "max_concurrent_tasks", "running_tasks")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_DATE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_DATE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_USAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_TASKS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    description: str
    host: str
    status: ClientStatus
    connection_status: ConnectionStatus
    version: str
    unique_client_id: str
    tenant_code: str
    created_date: int
    updated_date: int
    last_seen: _timestamp_pb2.Timestamp
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    ip_address: str
    resource_usage: _common_pb2.ResourceUsage
    max_concurrent_tasks: int
    running_tasks: int
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., host: _Optional[str] = ..., status: _Optional[_Union[ClientStatus, str]] = ..., connection_status: _Optional[_Union[ConnectionStatus, str]] = ..., version: _Optional[str] = ..., unique_client_id: _Optional[str] = ..., tenant_code: _Optional[str] = ..., created_date: _Optional[int] = ..., updated_date: _Optional[int] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., capabilities: _Optional[_Iterable[str]] = ..., ip_address: _Optional[str] = ..., resource_usage: _Optional[_Union[_common_pb2.ResourceUsage, _Mapping]] = ..., max_concurrent_tasks: _Optional[int] = ..., running_tasks: _Optional[int] = ...) -> None: ...

class ListClientsRequest(_message.Message):
    __slots__ = ("page", "per_page", "status", "connection_status", "tenant_code")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_STATUS_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    page: int
    per_page: int
    status: ClientStatus
    connection_status: ConnectionStatus
    tenant_code: str
    def __init__(self, page: _Optional[int] = ..., per_page: _Optional[int] = ..., status: _Optional[_Union[ClientStatus, str]] = ..., connection_status: _Optional[_Union[ConnectionStatus, str]] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class ListClientsResponse(_message.Message):
    __slots__ = ("clients", "total", "page", "per_page")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    clients: _containers.RepeatedCompositeFieldContainer[Client]
    total: int
    page: int
    per_page: int
    def __init__(self, clients: _Optional[_Iterable[_Union[Client, _Mapping]]] = ..., total: _Optional[int] = ..., page: _Optional[int] = ..., per_page: _Optional[int] = ...) -> None: ...

class GetClientRequest(_message.Message):
    __slots__ = ("id", "tenant_code")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    id: int
    tenant_code: str
    def __init__(self, id: _Optional[int] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class GetClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: Client
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class AddClientRequest(_message.Message):
    __slots__ = ("name", "description", "host", "tenant_code")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    host: str
    tenant_code: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., host: _Optional[str] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class AddClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: Client
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class UpdateClientRequest(_message.Message):
    __slots__ = ("id", "name", "description", "status", "host", "tenant_code")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    description: str
    status: ClientStatus
    host: str
    tenant_code: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[_Union[ClientStatus, str]] = ..., host: _Optional[str] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class UpdateClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: Client
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class DeleteClientRequest(_message.Message):
    __slots__ = ("id", "tenant_code")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    id: int
    tenant_code: str
    def __init__(self, id: _Optional[int] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class DeleteClientResponse(_message.Message):
    __slots__ = ("id", "unique_client_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    unique_client_id: str
    def __init__(self, id: _Optional[int] = ..., unique_client_id: _Optional[str] = ...) -> None: ...

class GetClientConfigRequest(_message.Message):
    __slots__ = ("client_id", "hostname")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    hostname: str
    def __init__(self, client_id: _Optional[str] = ..., hostname: _Optional[str] = ...) -> None: ...

class ClientCertificates(_message.Message):
    __slots__ = ("client_cert", "client_key", "ca_cert")
    CLIENT_CERT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_KEY_FIELD_NUMBER: _ClassVar[int]
    CA_CERT_FIELD_NUMBER: _ClassVar[int]
    client_cert: str
    client_key: str
    ca_cert: str
    def __init__(self, client_cert: _Optional[str] = ..., client_key: _Optional[str] = ..., ca_cert: _Optional[str] = ...) -> None: ...

class GetClientConfigResponse(_message.Message):
    __slots__ = ("client_config", "certificates")
    CLIENT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    client_config: _common_pb2.ClientConfig
    certificates: ClientCertificates
    def __init__(self, client_config: _Optional[_Union[_common_pb2.ClientConfig, _Mapping]] = ..., certificates: _Optional[_Union[ClientCertificates, _Mapping]] = ...) -> None: ...

class CreateEnrollmentTokenRequest(_message.Message):
    __slots__ = ("id", "ttl_seconds", "tenant_code")
    ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    id: int
    ttl_seconds: int
    tenant_code: str
    def __init__(self, id: _Optional[int] = ..., ttl_seconds: _Optional[int] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class CreateEnrollmentTokenResponse(_message.Message):
    __slots__ = ("token", "expires_at", "unique_client_id", "enroll_endpoint", "ca_certificate_pem")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLL_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    CA_CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: _timestamp_pb2.Timestamp
    unique_client_id: str
    enroll_endpoint: str
    ca_certificate_pem: str
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unique_client_id: _Optional[str] = ..., enroll_endpoint: _Optional[str] = ..., ca_certificate_pem: _Optional[str] = ...) -> None: ...

class ClientCertificate(_message.Message):
    __slots__ = ("serial", "issued_at", "expires_at", "revoked_at", "revocation_reason", "first_used_at", "replaces_serial")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    FIRST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLACES_SERIAL_FIELD_NUMBER: _ClassVar[int]
    serial: str
    issued_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    revocation_reason: str
    first_used_at: _timestamp_pb2.Timestamp
    replaces_serial: str
    def __init__(self, serial: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revocation_reason: _Optional[str] = ..., first_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replaces_serial: _Optional[str] = ...) -> None: ...

class ListClientCertificatesRequest(_message.Message):
    __slots__ = ("id", "tenant_code")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    id: int
    tenant_code: str
    def __init__(self, id: _Optional[int] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class ListClientCertificatesResponse(_message.Message):
    __slots__ = ("certificates",)
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    certificates: _containers.RepeatedCompositeFieldContainer[ClientCertificate]
    def __init__(self, certificates: _Optional[_Iterable[_Union[ClientCertificate, _Mapping]]] = ...) -> None: ...

class RevokeClientCertificatesRequest(_message.Message):
    __slots__ = ("id", "tenant_code", "serial", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: int
    tenant_code: str
    serial: str
    reason: str
    def __init__(self, id: _Optional[int] = ..., tenant_code: _Optional[str] = ..., serial: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeClientCertificatesResponse(_message.Message):
    __slots__ = ("revoked_serials", "stream_closed")
    REVOKED_SERIALS_FIELD_NUMBER: _ClassVar[int]
    STREAM_CLOSED_FIELD_NUMBER: _ClassVar[int]
    revoked_serials: _containers.RepeatedScalarFieldContainer[str]
    stream_closed: bool
    def __init__(self, revoked_serials: _Optional[_Iterable[str]] = ..., stream_closed: _Optional[bool] = ...) -> None: ...
