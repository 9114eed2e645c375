from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
INLINE_JSON_FIELD_NUMBER: _ClassVar[int]
inline_json: _descriptor.FieldDescriptor

class InlineOneof(_message.Message):
    __slots__ = ("discriminator",)
    DISCRIMINATOR_FIELD_NUMBER: _ClassVar[int]
    discriminator: str
    def __init__(self, discriminator: _Optional[str] = ...) -> None: ...
