import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ris.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UserAccount(_message.Message):
    __slots__ = ("id", "email", "role", "tenant_code", "disabled", "external", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    email: str
    role: _common_pb2.Role
    tenant_code: str
    disabled: bool
    external: bool
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., tenant_code: _Optional[str] = ..., disabled: _Optional[bool] = ..., external: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListUsersRequest(_message.Message):
    __slots__ = ("page", "per_page", "tenant_code")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    page: int
    per_page: int
    tenant_code: str
    def __init__(self, page: _Optional[int] = ..., per_page: _Optional[int] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class ListUsersResponse(_message.Message):
    __slots__ = ("users", "total", "page", "per_page")
    USERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[UserAccount]
    total: int
    page: int
    per_page: int
    def __init__(self, users: _Optional[_Iterable[_Union[UserAccount, _Mapping]]] = ..., total: _Optional[int] = ..., page: _Optional[int] = ..., per_page: _Optional[int] = ...) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("user_id", "tenant_code")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    tenant_code: str
    def __init__(self, user_id: _Optional[str] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class GetUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: UserAccount
    def __init__(self, user: _Optional[_Union[UserAccount, _Mapping]] = ...) -> None: ...

class CreateUserRequest(_message.Message):
    __slots__ = ("email", "password", "role", "tenant_code")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    role: _common_pb2.Role
    tenant_code: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class CreateUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: UserAccount
    def __init__(self, user: _Optional[_Union[UserAccount, _Mapping]] = ...) -> None: ...

class UpdateUserRequest(_message.Message):
    __slots__ = ("user_id", "role", "password", "disabled", "tenant_code")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    role: _common_pb2.Role
    password: str
    disabled: bool
    tenant_code: str
    def __init__(self, user_id: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., password: _Optional[str] = ..., disabled: _Optional[bool] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class UpdateUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: UserAccount
    def __init__(self, user: _Optional[_Union[UserAccount, _Mapping]] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("user_id", "tenant_code")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_CODE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    tenant_code: str
    def __init__(self, user_id: _Optional[str] = ..., tenant_code: _Optional[str] = ...) -> None: ...

class DeleteUserResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...
