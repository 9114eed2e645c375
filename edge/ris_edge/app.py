"""FastAPI app of the REST edge: routes, probes, OpenAPI and middleware."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ris_edge.api import ApiHandler, error_response, request_id_of
from ris_edge.backend import Backend
from ris_edge.middleware import RequestIdMiddleware
from ris_edge.openapi import build_openapi
from ris_edge.probes import Probes
from ris_edge.routes import build_route_table
from ris_edge.settings import EdgeSettings
from ris_edge.status import code_for_http_status
from ris_edge.text_escape import escape_for_log

__all__ = ["EdgeSettings", "create_app"]

logger = logging.getLogger(__name__)

# Methods the catch-all API route accepts, so that the route table, not
# Starlette, decides between 404 and 405.
_API_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
# Paths served by the edge itself, each for GET and HEAD only.
_OTHER_PATHS = ("/health", "/ready", "/openapi.json")


def create_app(settings: EdgeSettings) -> FastAPI:
    """Build the edge app; its lifespan opens and closes the backend channel.

    FastAPI's generated docs are disabled: /openapi.json serves the document
    built from the contract.
    """
    # A copy validates fields changed since construction and keeps later
    # changes away from this app.
    settings = dataclasses.replace(settings)
    table = build_route_table()
    backend = Backend(settings)
    document = build_openapi(table)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await backend.open()
        try:
            yield
        finally:
            await backend.close()

    app = FastAPI(
        title="RIS REST edge",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.backend = backend
    app.state.route_table = table

    async def openapi_document(request: Request) -> JSONResponse:
        return JSONResponse(document)

    probes = Probes(backend, settings)
    handler = ApiHandler(
        table,
        backend,
        settings,
        other_paths={path: ("GET", "HEAD") for path in _OTHER_PATHS},
    )
    app.add_route("/health", probes.health, methods=["GET"], include_in_schema=False)
    app.add_route("/ready", probes.ready, methods=["GET"], include_in_schema=False)
    app.add_route(
        "/openapi.json", openapi_document, methods=["GET"], include_in_schema=False
    )
    app.add_route(
        "/{path:path}", handler.handle, methods=_API_METHODS, include_in_schema=False
    )
    app.add_exception_handler(HTTPException, _http_exception_handler)
    _add_middleware(app, settings)
    logger.info(
        "edge app built with %d routes for backend %s",
        len(table.routes),
        settings.backend,
    )
    return app


def _add_middleware(app: FastAPI, settings: EdgeSettings) -> None:
    # The middleware added last runs first, so every response, CORS preflight
    # responses included, carries X-Request-ID.
    if settings.cors_enabled:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allowed_origins),
            allow_methods=list(settings.cors_allowed_methods),
            allow_headers=list(settings.cors_allowed_headers),
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestIdMiddleware)


async def _http_exception_handler(request: Request, error: Exception) -> Response:
    """Render Starlette's own HTTP errors, such as 405 on /health, in the envelope."""
    if not isinstance(error, HTTPException):
        raise error
    code = code_for_http_status(error.status_code)
    message = error.detail if isinstance(error.detail, str) else code.name
    if error.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    logger.info(
        "rejected request %s with HTTP %d: %s",
        request_id_of(request),
        error.status_code,
        escape_for_log(message),
    )
    return error_response(
        code, message, status=error.status_code, headers=error.headers
    )
