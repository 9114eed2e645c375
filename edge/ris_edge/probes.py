"""Handlers of GET /health and GET /ready, which respond without the envelope."""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health_pb2
from starlette.requests import Request
from starlette.responses import JSONResponse

from ris_edge.api import request_id_of
from ris_edge.backend import Backend
from ris_edge.forwarding import REQUEST_ID_HEADER
from ris_edge.jsonmap import message_to_json
from ris_edge.log_throttle import LogThrottle

logger = logging.getLogger(__name__)

_SERVING = health_pb2.HealthCheckResponse.SERVING


class Probes:
    """Health and readiness endpoints backed by the hub."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._throttle = LogThrottle()

    async def health(self, request: Request) -> JSONResponse:
        """Return SystemService.GetHealth as JSON: HTTP 200 when its status is
        "healthy", else 503, and 503 with status "unhealthy" when the call fails."""
        metadata = [(REQUEST_ID_HEADER, request_id_of(request))]
        try:
            response = await self._backend.get_health(metadata)
        except grpc.aio.AioRpcError as error:
            self._log_failure("GetHealth", error)
            error_detail = {"code": error.code().name, "message": error.details() or ""}
            return JSONResponse({"status": "unhealthy", "error": error_detail}, 503)
        status_code = 200 if response.status == "healthy" else 503
        return JSONResponse(message_to_json(response), status_code)

    async def ready(self, request: Request) -> JSONResponse:
        """Return 200 {"status": "ready"} when grpc.health.v1 reports the server
        as SERVING, else 503 {"status": "not_ready", "reason": ...}."""
        try:
            status = await self._backend.check_serving()
        except grpc.aio.AioRpcError as error:
            self._log_failure("Health/Check", error)
            reason = f"health check failed with {error.code().name}"
            return JSONResponse({"status": "not_ready", "reason": reason}, 503)
        if status == _SERVING:
            return JSONResponse({"status": "ready"})
        reason = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
        return JSONResponse({"status": "not_ready", "reason": reason}, 503)

    def _log_failure(self, rpc: str, error: grpc.aio.AioRpcError) -> None:
        suppressed = self._throttle.allow((rpc, error.code()))
        if suppressed is not None:
            logger.warning(
                "probe call %s failed with %s: %s (%d similar errors not logged)",
                rpc,
                error.code().name,
                error.details(),
                suppressed,
            )
