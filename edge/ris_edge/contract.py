"""Facts about the ris.v1 contract that the runtime descriptors do not expose.

The generated modules keep each file's serialized FileDescriptorProto. Only
that form distinguishes an explicit ``json_name`` from the one protoc
derives, and a proto3 ``optional`` field from a one-member oneof. protoc's Python
output carries no source info, so RPC comments come from the docstrings that
the gRPC plugin copies into the generated servicer classes.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from types import ModuleType

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import (
    EnumDescriptor,
    EnumValueDescriptor,
    FieldDescriptor,
    FileDescriptor,
    MethodDescriptor,
    OneofDescriptor,
)

from ris.v1 import options_pb2

PACKAGE = "ris.v1"

# The gRPC Python plugin writes this docstring when an RPC has no comment.
_NO_COMMENT = "Missing associated documentation comment in .proto file."


def load_package_files(package: str = PACKAGE) -> list[FileDescriptor]:
    """Import every generated ``*_pb2`` module of ``package``, sorted by file name.

    Only files whose proto package equals ``package`` are returned, so
    dependencies such as google/api/http.proto are left out.
    """
    parent = importlib.import_module(package)
    files = []
    for module_info in pkgutil.iter_modules(parent.__path__):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"{package}.{module_info.name}")
        if module.DESCRIPTOR.package == package:
            files.append(module.DESCRIPTOR)
    return sorted(files, key=lambda file: file.name)


@dataclass(frozen=True)
class _FileFacts:
    explicit_json_names: dict[str, str]
    proto3_optional_fields: frozenset[str]


_facts_by_file: dict[str, _FileFacts] = {}


def _read_file_facts(serialized: bytes) -> _FileFacts:
    proto = descriptor_pb2.FileDescriptorProto.FromString(serialized)
    json_names: dict[str, str] = {}
    optional_fields: set[str] = set()
    scopes = [(proto.package, message) for message in proto.message_type]
    while scopes:
        scope, message = scopes.pop()
        message_name = f"{scope}.{message.name}" if scope else message.name
        for field in message.field:
            full_name = f"{message_name}.{field.name}"
            if field.HasField("json_name"):
                json_names[full_name] = field.json_name
            if field.proto3_optional:
                optional_fields.add(full_name)
        scopes.extend((message_name, nested) for nested in message.nested_type)
    return _FileFacts(json_names, frozenset(optional_fields))


def _facts_for(field: FieldDescriptor) -> _FileFacts:
    file = field.containing_type.file
    facts = _facts_by_file.get(file.name)
    if facts is None:
        facts = _read_file_facts(file.serialized_pb)
        _facts_by_file[file.name] = facts
    return facts


def explicit_json_name(field: FieldDescriptor) -> str | None:
    """Return the ``json_name`` written in the .proto file, or None when unset."""
    return _facts_for(field).explicit_json_names.get(field.full_name)


def lower_camel_name(field: FieldDescriptor) -> str:
    """Return the lowerCamelCase form of the field name, as protoc derives a
    default json_name: ``run_async`` gives ``runAsync``.

    ``FieldDescriptor.camelcase_name`` cannot serve, because the upb runtime
    returns the explicit json_name there.
    """
    head, *rest = field.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def is_proto3_optional(field: FieldDescriptor) -> bool:
    """Return whether the field was declared with the proto3 ``optional`` label."""
    return field.full_name in _facts_for(field).proto3_optional_fields


def real_oneof(field: FieldDescriptor) -> OneofDescriptor | None:
    """Return the field's declared oneof, skipping the synthetic oneof of
    a proto3 ``optional`` field."""
    if field.containing_oneof is None or is_proto3_optional(field):
        return None
    return field.containing_oneof


def inline_json_option(oneof: OneofDescriptor) -> options_pb2.InlineOneof | None:
    """Return the oneof's ``(ris.v1.inline_json)`` option, or None when unset."""
    options = oneof.GetOptions()
    if not options.HasExtension(options_pb2.inline_json):
        return None
    return options.Extensions[options_pb2.inline_json]


def is_map(field: FieldDescriptor) -> bool:
    """Return whether the field is a protobuf map."""
    return (
        field.is_repeated
        and field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
    )


def enum_prefix(enum: EnumDescriptor) -> str:
    """Return the value prefix of an enum: ``TaskStatus`` gives ``TASK_STATUS_``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", enum.name)
    return words.upper() + "_"


def enum_short_name(value: EnumValueDescriptor) -> str:
    """Return the value name without its type prefix, lowercased.

    ``TASK_STATUS_COMPLETED`` gives ``completed``. A value that lacks the
    prefix gives its whole name, lowercased.
    """
    prefix = enum_prefix(value.type)
    name = value.name
    if name.startswith(prefix) and len(name) > len(prefix):
        name = name[len(prefix) :]
    return name.lower()


def method_comment(method: MethodDescriptor) -> str | None:
    """Return the leading comment of an RPC from the generated servicer class.

    Returns None when the grpc module or the servicer method is missing, or when
    the RPC has no comment.
    """
    service = method.containing_service
    grpc_module = _grpc_module_for(service.file)
    if grpc_module is None:
        return None
    servicer = getattr(grpc_module, f"{service.name}Servicer", None)
    function = getattr(servicer, method.name, None)
    if function is None or not function.__doc__:
        return None
    text = inspect.cleandoc(function.__doc__)
    if text == _NO_COMMENT:
        return None
    return text


def _grpc_module_for(file: FileDescriptor) -> ModuleType | None:
    module_name = file.name.removesuffix(".proto").replace("/", ".") + "_pb2_grpc"
    try:
        return importlib.import_module(module_name)
    except ImportError:
        return None
