"""gRPC channel from the edge to the hub, and the calls the edge makes on it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ris.v1 import system_pb2, system_pb2_grpc
from ris_edge.routes import Route
from ris_edge.settings import EdgeSettings

logger = logging.getLogger(__name__)

Metadata = Sequence[tuple[str, str]]

# Largest response the channel accepts, in bytes. grpc's default of 4 MiB is
# below the hub's 8 MiB maximum message, and the hub returns task results of up
# to that size, so the limit sits above the hub's maximum.
# NOTE: a ListTasks page contains many results, so it can still exceed this
# limit unless the hub bounds the size of a page.
MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024


class Backend:
    """The edge's channel to the hub. Call ``open`` inside the event loop that
    makes the calls, and ``close`` when done."""

    def __init__(self, settings: EdgeSettings) -> None:
        self._settings = settings
        self._channel: grpc.aio.Channel | None = None
        self._callables: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}

    async def open(self) -> None:
        """Create the channel; it connects on the first call."""
        settings = self._settings
        options: list[tuple[str, int | str]] = [
            ("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES)
        ]
        if settings.ca_pem is None:
            self._channel = grpc.aio.insecure_channel(settings.backend, options=options)
        else:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=settings.ca_pem
            )
            if settings.server_name:
                options.append(("grpc.ssl_target_name_override", settings.server_name))
            self._channel = grpc.aio.secure_channel(
                settings.backend, credentials, options=options
            )
        logger.info(
            "backend channel opened to %s (%s)",
            settings.backend,
            "plaintext" if settings.ca_pem is None else "TLS",
        )

    async def close(self) -> None:
        """Close the channel, cancelling calls still in flight."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._callables.clear()
            logger.info("backend channel to %s closed", self._settings.backend)

    async def call(self, route: Route, request: Message, metadata: Metadata) -> Message:
        """Call the route's RPC with the configured deadline.

        Raises grpc.aio.AioRpcError with the backend's status.
        """
        unary = self._callables.get(route.grpc_path)
        if unary is None:
            unary = self._require_channel().unary_unary(
                route.grpc_path,
                request_serializer=route.request_class.SerializeToString,
                response_deserializer=route.response_class.FromString,
            )
            self._callables[route.grpc_path] = unary
        return await unary(
            request, metadata=metadata, timeout=self._settings.call_timeout
        )

    async def get_health(self, metadata: Metadata) -> system_pb2.GetHealthResponse:
        """Call SystemService.GetHealth without credentials."""
        stub = system_pb2_grpc.SystemServiceStub(self._require_channel())
        return await stub.GetHealth(
            system_pb2.GetHealthRequest(),
            metadata=metadata,
            timeout=self._settings.probe_timeout,
        )

    async def check_serving(self, metadata: Metadata = ()) -> int:
        """Return the grpc.health.v1 serving status of the whole server ("")."""
        stub = health_pb2_grpc.HealthStub(self._require_channel())
        response = await stub.Check(
            health_pb2.HealthCheckRequest(service=""),
            metadata=metadata,
            timeout=self._settings.probe_timeout,
        )
        return response.status

    def _require_channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            raise RuntimeError("backend channel is not open; call Backend.open first")
        return self._channel
