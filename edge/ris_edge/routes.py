"""Route table built from the ``google.api.http`` annotations of the contract.

Every annotated unary RPC gives one route for its rule and one for each of
its ``additional_bindings``. Path templates may hold literal segments,
``{field}``, ``{field=*}`` and, as the last segment, ``{field=**}``. A
variable may name a nested field with dots. Custom verbs (``:verb``) and bare
wildcards raise ValueError, as does any annotation that names a missing
field. A HEAD request matches the GET routes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from google.api import annotations_pb2, http_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    FileDescriptor,
    MethodDescriptor,
)
from google.protobuf.message import Message

from ris_edge.contract import load_package_files
from ris_edge.jsonmap import output_key

logger = logging.getLogger(__name__)

# Keys of the success envelope that response fields must not reuse.
ENVELOPE_KEYS = frozenset({"success", "data", "error"})
_SIMPLE_PATTERNS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class PathVariable:
    """A ``{field}`` segment of a path template."""

    field_path: str
    matches_rest: bool = False


Segment = str | PathVariable


@dataclass(frozen=True)
class Route:
    """One HTTP binding of an RPC."""

    http_method: str
    template: str
    segments: tuple[Segment, ...]
    body: str
    response_body: str
    method: MethodDescriptor = field(compare=False)

    @property
    def grpc_path(self) -> str:
        """Return the gRPC method path, for example ``/ris.v1.TaskService/GetTask``."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def variables(self) -> tuple[str, ...]:
        """Return the field paths bound by the path template."""
        return tuple(s.field_path for s in self.segments if isinstance(s, PathVariable))

    @property
    def request_class(self) -> type[Message]:
        """Return the generated class of the RPC's request message."""
        return message_factory.GetMessageClass(self.method.input_type)

    @property
    def response_class(self) -> type[Message]:
        """Return the generated class of the RPC's response message."""
        return message_factory.GetMessageClass(self.method.output_type)


@dataclass(frozen=True)
class RouteMatch:
    """A route with the percent-decoded values of its path variables."""

    route: Route
    path_params: dict[str, str]


class RouteNotFoundError(LookupError):
    """No route template matches the path."""


class MethodNotAllowedError(LookupError):
    """Templates match the path, but none for the request's HTTP method."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = tuple(sorted(set(allowed)))
        super().__init__(f"allowed methods: {', '.join(self.allowed)}")


class RouteTable:
    """Routes ordered so that literal segments beat variables at each position."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = tuple(sorted(routes, key=_specificity))
        seen: set[tuple[str, tuple[Segment, ...]]] = set()
        for route in self._routes:
            key = (route.http_method, _shape(route.segments))
            if key in seen:
                raise ValueError(f"two routes for {route.http_method} {route.template}")
            seen.add(key)

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    def match(self, http_method: str, path: str) -> RouteMatch:
        """Find the route for a method and a raw (percent-encoded) URL path.

        HEAD matches the GET routes, because RFC 9110 defines HEAD as GET
        without the response content. Raises RouteNotFoundError when no template
        matches the path, and MethodNotAllowedError when only templates of
        other methods match.
        """
        if not path.startswith("/"):
            raise RouteNotFoundError(path)
        route_method = "GET" if http_method == "HEAD" else http_method
        parts = path[1:].split("/")
        other_methods = []
        for route in self._routes:
            params = _match_segments(route.segments, parts)
            if params is None:
                continue
            if route.http_method == route_method:
                return RouteMatch(route, params)
            other_methods.append(route.http_method)
            if route.http_method == "GET":
                other_methods.append("HEAD")
        if other_methods:
            raise MethodNotAllowedError(other_methods)
        raise RouteNotFoundError(path)


def build_route_table(files: Iterable[FileDescriptor] | None = None) -> RouteTable:
    """Build the route table from the annotated RPCs of ``files``.

    ``files`` defaults to every generated file of the ris.v1 package.
    Streaming RPCs are skipped with a warning, because the edge only forwards
    unary calls.
    """
    if files is None:
        files = load_package_files()
    routes: list[Route] = []
    for file in files:
        for service in file.services_by_name.values():
            for method in service.methods:
                routes.extend(routes_for_method(method))
    return RouteTable(routes)


def http_rule(method: MethodDescriptor) -> http_pb2.HttpRule | None:
    """Return the method's ``google.api.http`` option, or None when unset."""
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return None
    return options.Extensions[annotations_pb2.http]


def routes_for_method(method: MethodDescriptor) -> list[Route]:
    """Return the routes of one RPC: none when it has no annotation."""
    rule = http_rule(method)
    if rule is None:
        return []
    if method.client_streaming or method.server_streaming:
        logger.warning("skipping HTTP annotation of streaming RPC %s", method.full_name)
        return []
    rules = [rule, *rule.additional_bindings]
    return [_route_from_rule(method, binding, rule.response_body) for binding in rules]


def _route_from_rule(
    method: MethodDescriptor, rule: http_pb2.HttpRule, response_body: str
) -> Route:
    pattern = rule.WhichOneof("pattern")
    if pattern in _SIMPLE_PATTERNS:
        http_method, template = pattern.upper(), getattr(rule, pattern)
    elif pattern == "custom":
        http_method, template = rule.custom.kind.upper(), rule.custom.path
    else:
        raise ValueError(f"{method.full_name}: HTTP rule has no path")
    segments = parse_template(template)
    route = Route(
        http_method=http_method,
        template=template,
        segments=segments,
        body=rule.body,
        response_body=rule.response_body or response_body,
        method=method,
    )
    _check_route(route)
    return route


def parse_template(template: str) -> tuple[Segment, ...]:
    """Split a path template into literal segments and variables."""
    if not template.startswith("/"):
        raise ValueError(f"path template {template!r} must start with '/'")
    parts = template[1:].split("/")
    if ":" in parts[-1]:
        raise ValueError(f"path template {template!r}: custom verbs are not supported")
    segments: list[Segment] = []
    for index, part in enumerate(parts):
        segment = _parse_segment(template, part)
        last = index == len(parts) - 1
        if isinstance(segment, PathVariable) and segment.matches_rest and not last:
            raise ValueError(f"path template {template!r}: '**' must be last")
        segments.append(segment)
    return tuple(segments)


def _parse_segment(template: str, part: str) -> Segment:
    if not part or part in ("*", "**"):
        raise ValueError(f"path template {template!r}: empty or wildcard segment")
    if not part.startswith("{"):
        if "{" in part or "}" in part:
            raise ValueError(f"path template {template!r}: bad segment {part!r}")
        return part
    if not part.endswith("}"):
        raise ValueError(f"path template {template!r}: bad segment {part!r}")
    name, _, pattern = part[1:-1].partition("=")
    if pattern not in ("", "*", "**"):
        raise ValueError(f"path template {template!r}: unsupported pattern {pattern!r}")
    return PathVariable(name, matches_rest=pattern == "**")


def resolve_field_path(
    descriptor: Descriptor, field_path: str
) -> list[FieldDescriptor]:
    """Return the fields along a dotted path of proto field names.

    Raises ValueError when a name is missing or an inner field is not a
    singular message.
    """
    fields: list[FieldDescriptor] = []
    current = descriptor
    for name in field_path.split("."):
        if current is None:
            raise ValueError(f"{field_path!r}: {fields[-1].name} is not a message")
        found = current.fields_by_name.get(name)
        if found is None:
            raise ValueError(
                f"{field_path!r}: {current.full_name} has no field {name!r}"
            )
        fields.append(found)
        single_message = (
            found.type == FieldDescriptor.TYPE_MESSAGE and not found.is_repeated
        )
        current = found.message_type if single_message else None
    return fields


def _check_route(route: Route) -> None:
    where = f"{route.method.full_name} ({route.http_method} {route.template})"
    request = route.method.input_type
    for variable in route.variables:
        leaf = _resolve_or_raise(request, variable, where)[-1]
        if leaf.is_repeated or leaf.type == FieldDescriptor.TYPE_MESSAGE:
            raise ValueError(
                f"{where}: path variable {variable!r} is not a scalar field"
            )
    if route.body not in ("", "*"):
        _resolve_or_raise(request, route.body, where)
        if route.body in {v.split(".")[0] for v in route.variables}:
            raise ValueError(f"{where}: body field {route.body!r} is a path variable")
    if route.response_body:
        _check_response_body(route.method.output_type, route.response_body, where)


def _check_response_body(response: Descriptor, name: str, where: str) -> None:
    if name not in response.fields_by_name:
        raise ValueError(f"{where}: response has no field {name!r}")
    for field_descriptor in response.fields:
        key = output_key(field_descriptor)
        if field_descriptor.name != name and key in ENVELOPE_KEYS:
            raise ValueError(
                f"{where}: response field {key!r} clashes with the envelope"
            )


def _resolve_or_raise(
    descriptor: Descriptor, field_path: str, where: str
) -> list[FieldDescriptor]:
    try:
        return resolve_field_path(descriptor, field_path)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from error


def _specificity(route: Route) -> tuple[int, ...]:
    ranks = []
    for segment in route.segments:
        if isinstance(segment, str):
            ranks.append(0)
        else:
            ranks.append(2 if segment.matches_rest else 1)
    return tuple(ranks)


def _shape(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """Return the segments with variable names erased, to find duplicate routes."""
    return tuple(
        s if isinstance(s, str) else PathVariable("", s.matches_rest) for s in segments
    )


def _match_segments(
    segments: tuple[Segment, ...], parts: list[str]
) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, segment in enumerate(segments):
        if isinstance(segment, PathVariable) and segment.matches_rest:
            value = "/".join(unquote(part) for part in parts[index:])
            if not value:
                return None
            params[segment.field_path] = value
            return params
        if index >= len(parts):
            return None
        text = unquote(parts[index])
        if isinstance(segment, str):
            if text != segment:
                return None
        elif not text:
            return None
        else:
            params[segment.field_path] = text
    if len(parts) != len(segments):
        return None
    return params
