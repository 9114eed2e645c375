"""Handlers of GET /health and GET /ready, which respond without the envelope."""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health_pb2
from starlette.requests import Request
from starlette.responses import JSONResponse

from ris_edge.api import forwarded_for_header, request_id_of
from ris_edge.backend import Backend
from ris_edge.forwarding import REQUEST_ID_HEADER, client_address_metadata
from ris_edge.jsonmap import message_to_json
from ris_edge.log_throttle import LogThrottle
from ris_edge.settings import EdgeSettings

logger = logging.getLogger(__name__)

_SERVING = health_pb2.HealthCheckResponse.SERVING


class Probes:
    """Health and readiness endpoints backed by the hub."""

    def __init__(self, backend: Backend, settings: EdgeSettings) -> None:
        self._backend = backend
        self._settings = settings
        self._throttle = LogThrottle()

    def _metadata(self, request: Request) -> list[tuple[str, str]]:
        # The hub rate-limits the probes per HTTP client, as other calls.
        metadata = [(REQUEST_ID_HEADER, request_id_of(request))]
        metadata.extend(
            client_address_metadata(
                client_host=request.client.host if request.client else None,
                incoming_forwarded_for=forwarded_for_header(request),
                trusted_proxies=self._settings.trusted_proxy_networks,
                edge_key=self._settings.edge_key,
            )
        )
        return metadata

    async def health(self, request: Request) -> JSONResponse:
        """Return SystemService.GetHealth as JSON: HTTP 200 when its status is
        "healthy", else 503, and 503 with status "unhealthy" when the call fails."""
        try:
            response = await self._backend.get_health(self._metadata(request))
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
            status = await self._backend.check_serving(self._metadata(request))
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
