"""HTTP handler of the annotated RPC routes: match, build, forward, render."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import grpc
from google.protobuf.message import Message
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ris_edge.backend import Backend
from ris_edge.forwarding import InvalidHeaderError, backend_metadata
from ris_edge.log_throttle import LogThrottle
from ris_edge.request_mapping import InvalidRequestError, build_request
from ris_edge.routes import (
    MethodNotAllowedError,
    Route,
    RouteNotFoundError,
    RouteTable,
)
from ris_edge.settings import EdgeSettings
from ris_edge.status import error_body, http_status, success_body
from ris_edge.text_escape import escape_for_log

logger = logging.getLogger(__name__)

# Status logged for a request whose client disconnected before the response;
# the client never receives it.
_CLIENT_CLOSED = 499


class BodyTooLargeError(ValueError):
    """A request body larger than the configured limit."""


def error_response(
    code: grpc.StatusCode,
    message: str,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Return the error envelope with the HTTP status mapped from ``code``
    unless ``status`` is given."""
    return JSONResponse(
        error_body(code, message),
        status_code=status if status is not None else http_status(code),
        headers=headers,
    )


def without_body(response: Response) -> Response:
    """Return a response with the status and headers of ``response``, its
    Content-Length included, and an empty body, as HEAD requires."""
    bodiless = Response(status_code=response.status_code)
    bodiless.raw_headers = list(response.raw_headers)
    return bodiless


def request_id_of(request: Request) -> str:
    """Return the request id that RequestIdMiddleware stored, or "-"."""
    return getattr(request.state, "request_id", "-")


async def read_body(request: Request, limit: int) -> bytes:
    """Read the whole request body; raises BodyTooLargeError past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"request body exceeds the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def forwarded_for_header(request: Request) -> str | None:
    """Return the X-Forwarded-For values of the request joined in order, or
    None; several headers form one list, as RFC 9110 defines."""
    values = request.headers.getlist("x-forwarded-for")
    return ", ".join(values) if values else None


def raw_path(request: Request) -> str:
    """Return the percent-encoded path of the request, without the query."""
    raw = request.scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").split("?", 1)[0]
    return request.url.path


class ApiHandler:
    """Handler of every route of a route table, which forwards to the backend."""

    def __init__(
        self,
        table: RouteTable,
        backend: Backend,
        settings: EdgeSettings,
        other_paths: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        """``other_paths`` maps the paths that other handlers serve to their
        methods, so that a request with another method gets 405, not 404."""
        self._table = table
        self._backend = backend
        self._settings = settings
        self._other_paths = other_paths or {}
        self._throttle = LogThrottle()

    async def handle(self, request: Request) -> Response:
        """Handle one HTTP request. Any Exception becomes a 500 envelope, so only
        cancellation propagates. A HEAD request gets the status and headers of
        the GET response without its body."""
        try:
            response = await self._handle(request)
        except Exception:
            request_id = request_id_of(request)
            logger.exception("unexpected error in request %s", request_id)
            response = error_response(
                grpc.StatusCode.INTERNAL,
                f"internal error in the REST edge; request id {request_id}",
            )
        if request.method == "HEAD":
            return without_body(response)
        return response

    async def _handle(self, request: Request) -> Response:
        path = raw_path(request)
        try:
            if path in self._other_paths:
                raise MethodNotAllowedError(self._other_paths[path])
            match = self._table.match(request.method, path)
            body = await read_body(request, self._settings.max_body_bytes)
            message = build_request(
                match.route, match.path_params, request.query_params.multi_items(), body
            )
            metadata = backend_metadata(
                authorization=request.headers.get("authorization"),
                incoming_forwarded_for=forwarded_for_header(request),
                client_host=request.client.host if request.client else None,
                request_id=request_id_of(request),
                trusted_proxies=self._settings.trusted_proxy_networks,
                edge_key=self._settings.edge_key,
            )
        except RouteNotFoundError:
            return _reject(
                request,
                grpc.StatusCode.NOT_FOUND,
                f"no route for {request.method} {path}",
            )
        except MethodNotAllowedError as error:
            allowed = ", ".join(error.allowed)
            return _reject(
                request,
                grpc.StatusCode.UNIMPLEMENTED,
                f"method {request.method} is not allowed on {path}; allowed: {allowed}",
                status=405,
                headers={"Allow": allowed},
            )
        except BodyTooLargeError as error:
            return _reject(
                request, grpc.StatusCode.INVALID_ARGUMENT, str(error), status=413
            )
        except (InvalidRequestError, InvalidHeaderError) as error:
            return _reject(request, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except ClientDisconnect:
            logger.info(
                "client closed request %s while sending its body",
                request_id_of(request),
            )
            return Response(status_code=_CLIENT_CLOSED)
        return await self._forward(request, match.route, message, metadata)

    async def _forward(
        self,
        request: Request,
        route: Route,
        message: Message,
        metadata: list[tuple[str, str]],
    ) -> Response:
        try:
            response = await _unless_disconnected(
                request, self._backend.call(route, message, metadata)
            )
        except grpc.aio.AioRpcError as error:
            return self._backend_error(request, route, error)
        if response is None:
            logger.info(
                "client closed request %s; cancelled %s",
                request_id_of(request),
                route.grpc_path,
            )
            return Response(status_code=_CLIENT_CLOSED)
        return JSONResponse(success_body(response, route.response_body))

    def _backend_error(
        self, request: Request, route: Route, error: grpc.aio.AioRpcError
    ) -> JSONResponse:
        code = error.code()
        status = http_status(code)
        self._log_backend_error(request, route, code, status, error.details())
        headers = {}
        retry_after = _metadata_value(error, "retry-after")
        if retry_after:
            headers["Retry-After"] = retry_after
        return error_response(code, error.details() or code.name, status, headers)

    def _log_backend_error(
        self,
        request: Request,
        route: Route,
        code: grpc.StatusCode,
        status: int,
        details: str | None,
    ) -> None:
        request_id = request_id_of(request)
        if status < 500:
            logger.info(
                "%s returned %s for request %s", route.grpc_path, code.name, request_id
            )
            return
        suppressed = self._throttle.allow((route.grpc_path, code))
        if suppressed is None:
            return
        # The hub's details may quote request values.
        logger.warning(
            "%s failed with %s for request %s: %s (%d similar errors not logged)",
            route.grpc_path,
            code.name,
            request_id,
            escape_for_log(details or ""),
            suppressed,
        )


def _reject(
    request: Request,
    code: grpc.StatusCode,
    message: str,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Log a request the edge rejects itself and return its error envelope.

    The log line escapes control characters, because the method, the path and
    ``message`` come from the request.
    """
    logger.info(
        "rejected request %s (%s %s): %s",
        request_id_of(request),
        escape_for_log(request.method),
        escape_for_log(raw_path(request)),
        escape_for_log(message),
    )
    return error_response(code, message, status, headers)


async def _unless_disconnected(request: Request, call: Awaitable[Any]) -> Any:
    """Await ``call``, or cancel it and return None when the client disconnects.

    Requires the request body to be read already, so that the next ASGI
    receive message can only be the disconnect.
    """
    call_task = asyncio.ensure_future(call)
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    try:
        done, _ = await asyncio.wait(
            {call_task, watcher}, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        watcher.cancel()
        if not call_task.done():
            call_task.cancel()
    if call_task in done:
        return call_task.result()
    return None


async def _wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _metadata_value(error: grpc.aio.AioRpcError, key: str) -> str | None:
    for metadata in (error.trailing_metadata(), error.initial_metadata()):
        for item_key, value in metadata or ():
            if item_key.lower() == key and isinstance(value, str):
                return value
    return None
