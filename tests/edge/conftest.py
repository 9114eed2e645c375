"""Fixtures for the REST edge tests: a real grpc.aio backend on 127.0.0.1 with
recording servicers, and the real edge app behind httpx."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2_grpc

from ris.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    client_pb2,
    client_pb2_grpc,
    system_pb2,
    system_pb2_grpc,
    task_pb2,
    task_pb2_grpc,
)
from ris_edge.app import create_app
from ris_edge.settings import EdgeSettings

# Address httpx's ASGI transport reports as the HTTP client's.
CLIENT_HOST = "127.0.0.5"

_HOSTED = [
    (client_pb2_grpc.ClientServiceServicer, client_pb2, "ClientService"),
    (task_pb2_grpc.TaskServiceServicer, task_pb2, "TaskService"),
    (auth_pb2_grpc.AuthServiceServicer, auth_pb2, "AuthService"),
    (system_pb2_grpc.SystemServiceServicer, system_pb2, "SystemService"),
]
_ADDERS = {
    "ClientService": client_pb2_grpc.add_ClientServiceServicer_to_server,
    "TaskService": task_pb2_grpc.add_TaskServiceServicer_to_server,
    "AuthService": auth_pb2_grpc.add_AuthServiceServicer_to_server,
    "SystemService": system_pb2_grpc.add_SystemServiceServicer_to_server,
}


@dataclass
class Recorder:
    """What the test servicers received, and what they should return.

    Keys are RPC method names, which are unique across the hosted services.
    """

    requests: dict[str, Message] = field(default_factory=dict)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    responses: dict[str, Message] = field(default_factory=dict)
    # method name -> (code, details, trailing metadata)
    errors: dict[str, tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]] = field(
        default_factory=dict
    )
    delays: dict[str, float] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)


def _make_servicer(base: type, file_module: Any, service_name: str, recorder: Recorder):
    service = file_module.DESCRIPTOR.services_by_name[service_name]

    def make_method(name: str, response_class: type[Message]):
        async def method(self, request, context):
            recorder.requests[name] = request
            recorder.metadata[name] = dict(context.invocation_metadata())
            if name in recorder.delays:
                try:
                    await asyncio.sleep(recorder.delays[name])
                except asyncio.CancelledError:
                    recorder.cancelled.add(name)
                    raise
            if name in recorder.errors:
                code, details, trailing = recorder.errors[name]
                await context.abort(code, details, trailing_metadata=trailing)
            return recorder.responses.get(name, response_class())

        return method

    namespace = {
        method.name: make_method(
            method.name, message_factory.GetMessageClass(method.output_type)
        )
        for method in service.methods
    }
    return type(f"Recording{base.__name__}", (base,), namespace)()


@dataclass
class Backend:
    """A running test backend."""

    port: int
    recorder: Recorder
    health: health.aio.HealthServicer

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    recorder = Recorder()
    server = grpc.aio.server()
    for base, file_module, service_name in _HOSTED:
        servicer = _make_servicer(base, file_module, service_name, recorder)
        _ADDERS[service_name](servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield Backend(port, recorder, health_servicer)
    finally:
        await server.stop(grace=None)


@asynccontextmanager
async def edge_client(settings: EdgeSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Run the edge app's lifespan and return an httpx client bound to it."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_HOST, 40000))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", trust_env=False
        ) as client:
            yield client


@pytest.fixture
def make_client(
    backend: Backend,
) -> Callable[..., Any]:
    """Return a factory of edge clients for the test backend; keyword
    arguments override EdgeSettings fields."""

    def factory(**overrides: Any):
        options: dict[str, Any] = {
            "backend": backend.address,
            "call_timeout": 5.0,
            "probe_timeout": 2.0,
        }
        options.update(overrides)
        return edge_client(EdgeSettings(**options))

    return factory


@pytest.fixture
async def client(make_client) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as edge:
        yield edge


def unused_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
