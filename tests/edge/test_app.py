"""The edge app against a real grpc.aio backend on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2

from ris.v1 import auth_pb2, client_pb2, common_pb2, system_pb2, task_pb2
from ris_edge.app import create_app
from ris_edge.settings import EdgeSettings

from .conftest import CLIENT_HOST, edge_client, unused_port
from .test_status_openapi import EXPECTED_HTTP_STATUS


def _completed_task() -> task_pb2.Task:
    return task_pb2.Task(
        task_id="t1",
        type=task_pb2.TASK_TYPE_HTTP_REQUEST,
        status=task_pb2.TASK_STATUS_COMPLETED,
        priority=task_pb2.TASK_PRIORITY_NORMAL,
        result=task_pb2.TaskResult(
            http_response=task_pb2.HttpResponse(status_code=200, body="OK"),
            execution_time=1250,
        ),
        created_at=Timestamp(seconds=1700000000),
    )


async def _assert_still_serving(client, backend):
    backend.recorder.responses["GetTask"] = task_pb2.GetTaskResponse(
        task=task_pb2.Task(task_id="alive")
    )
    response = await client.get("/platform/v1/task/alive")
    assert response.status_code == 200
    assert response.json()["data"]["task_id"] == "alive"


# Success paths ---------------------------------------------------------------


async def test_list_clients_envelope_and_query(client, backend):
    backend.recorder.responses["ListClients"] = client_pb2.ListClientsResponse(
        clients=[
            client_pb2.Client(
                id=7,
                name="edge-1",
                status=client_pb2.CLIENT_STATUS_ACTIVE,
                created_date=1700000000000,
            )
        ],
        total=1,
        page=1,
        per_page=10,
    )
    response = await client.get(
        "/platform/v1/ris", params={"page": "1", "per_page": "10", "status": "active"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 10)
    (listed,) = body["data"]
    assert listed["id"] == 7
    assert listed["status"] == "active"
    assert listed["created_date"] == 1700000000000
    assert "connection_status" not in listed
    assert backend.recorder.requests["ListClients"] == client_pb2.ListClientsRequest(
        page=1, per_page=10, status=client_pb2.CLIENT_STATUS_ACTIVE
    )


async def test_get_task_conversions(client, backend):
    backend.recorder.responses["GetTask"] = task_pb2.GetTaskResponse(
        task=_completed_task()
    )
    response = await client.get("/platform/v1/task/t1")
    assert response.status_code == 200
    task = response.json()["data"]
    assert task["status"] == "completed"
    assert task["type"] == "http_request"
    assert task["priority"] == "normal"
    assert task["created_at"] == "2023-11-14T22:13:20Z"
    assert task["result"] == {
        "status_code": 200,
        "headers": {},
        "body": "OK",
        "body_truncated": False,
        "execution_time": 1250,
        "error": "",
        "retryable": False,
    }
    assert backend.recorder.requests["GetTask"].task_id == "t1"


async def test_execute_task_inline_and_async(client, backend):
    backend.recorder.responses["ExecuteTask"] = task_pb2.ExecuteTaskResponse(
        task=task_pb2.Task(task_id="t9", status=task_pb2.TASK_STATUS_QUEUED)
    )
    response = await client.post(
        "/platform/v1/task/execute",
        json={
            "client_id": "c-1",
            "task": {
                "type": "http_request",
                "method": "GET",
                "url": "http://127.0.0.1:1/x",
                "headers": {"A": "b"},
            },
            "timeout": "30",
            "priority": 3,
            "async": True,
        },
    )
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "queued"
    request = backend.recorder.requests["ExecuteTask"]
    assert request.run_async is True
    assert request.timeout == 30
    assert request.priority == task_pb2.TASK_PRIORITY_NORMAL
    assert request.task == task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_HTTP_REQUEST,
        http_request=task_pb2.HttpRequestTask(
            method="GET", url="http://127.0.0.1:1/x", headers={"A": "b"}
        ),
    )


async def test_login_envelope_without_response_body(client, backend):
    backend.recorder.responses["Login"] = auth_pb2.LoginResponse(
        access_token="access",
        refresh_token="refresh",
        expires_in=900,
        token_type="Bearer",
        user=auth_pb2.User(id="u1", role=common_pb2.ROLE_ADMIN, tenant_code="default"),
    )
    response = await client.post(
        "/auth/login", json={"username": "admin", "password": "pw"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "data"}
    assert body["data"]["expires_in"] == 900
    assert body["data"]["user"]["role"] == "admin"
    assert backend.recorder.requests["Login"].password == "pw"


async def test_put_update_client_optional(client, backend):
    response = await client.put("/platform/v1/ris", json={"id": "5", "name": ""})
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": None}
    request = backend.recorder.requests["UpdateClient"]
    assert request.id == 5
    assert request.HasField("name")
    assert not request.HasField("host")


async def test_delete_with_json_body(client, backend):
    backend.recorder.responses["DeleteClient"] = client_pb2.DeleteClientResponse(
        id=5, unique_client_id="u-5"
    )
    response = await client.request("DELETE", "/platform/v1/ris", json={"id": 5})
    assert response.status_code == 200
    assert response.json()["data"] == {"id": 5, "unique_client_id": "u-5"}
    assert backend.recorder.requests["DeleteClient"].id == 5


async def test_two_path_params(client, backend):
    response = await client.get("/platform/v1/risclient/c-9/host.example")
    assert response.status_code == 200
    request = backend.recorder.requests["GetClientConfig"]
    assert (request.client_id, request.hostname) == ("c-9", "host.example")


async def test_response_over_default_grpc_limit(client, backend):
    body = "x" * (5 * 1024 * 1024)
    backend.recorder.responses["GetTask"] = task_pb2.GetTaskResponse(
        task=task_pb2.Task(
            task_id="big",
            result=task_pb2.TaskResult(
                http_response=task_pb2.HttpResponse(status_code=200, body=body)
            ),
        )
    )
    response = await client.get("/platform/v1/task/big")
    assert response.status_code == 200, response.text[:200]
    assert response.json()["data"]["result"]["body"] == body


async def test_list_over_default_grpc_limit(client, backend):
    body = "y" * (3 * 1024 * 1024)
    result = task_pb2.TaskResult(
        http_response=task_pb2.HttpResponse(status_code=200, body=body)
    )
    backend.recorder.responses["ListTasks"] = task_pb2.ListTasksResponse(
        tasks=[
            task_pb2.Task(task_id="big-1", result=result),
            task_pb2.Task(task_id="big-2", result=result),
        ]
    )
    response = await client.get("/platform/v1/tasks")
    assert response.status_code == 200, response.text[:200]
    tasks = response.json()["data"]
    assert [task["task_id"] for task in tasks] == ["big-1", "big-2"]
    assert tasks[1]["result"]["body"] == body


async def test_enrollment_token_path_and_body(client, backend):
    backend.recorder.responses["CreateEnrollmentToken"] = (
        client_pb2.CreateEnrollmentTokenResponse(
            token="tok", expires_at=Timestamp(seconds=1700000000, nanos=500_000_000)
        )
    )
    response = await client.post(
        "/platform/v1/ris/12/enrollment-token", json={"ttl_seconds": 600}
    )
    assert response.status_code == 200
    assert response.json()["data"]["expires_at"] == "2023-11-14T22:13:20.500Z"
    request = backend.recorder.requests["CreateEnrollmentToken"]
    assert (request.id, request.ttl_seconds) == (12, 600)


# Forwarding ----------------------------------------------------------------


async def test_authorization_and_forwarded_for(client, backend):
    response = await client.get(
        "/platform/v1/task/t1",
        headers={
            "Authorization": "Bearer secret-token",
            "X-Forwarded-For": "127.0.0.9",
            "X-Request-ID": "req-123",
        },
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-123"
    metadata = backend.recorder.metadata["GetTask"]
    assert metadata["authorization"] == "Bearer secret-token"
    assert metadata["x-forwarded-for"] == f"127.0.0.9, {CLIENT_HOST}"
    assert metadata["x-request-id"] == "req-123"


async def test_request_id_generated(client, backend):
    response = await client.get("/platform/v1/task/t1")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert backend.recorder.metadata["GetTask"]["x-request-id"] == request_id
    assert backend.recorder.metadata["GetTask"]["x-forwarded-for"] == CLIENT_HOST
    assert "authorization" not in backend.recorder.metadata["GetTask"]


async def test_invalid_request_id_replaced(client):
    response = await client.get("/platform/v1/task/t1", headers={"X-Request-ID": "a b"})
    assert response.headers["x-request-id"] != "a b"


async def test_non_ascii_authorization_rejected(client, backend):
    response = await client.get(
        "/platform/v1/task/t1",
        headers={"Authorization": "Bearer \xe9".encode("latin-1")},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_ARGUMENT"
    await _assert_still_serving(client, backend)


# Errors --------------------------------------------------------------------

_ERROR_CODES = [code for code in grpc.StatusCode if code != grpc.StatusCode.OK]


@pytest.mark.parametrize("code", _ERROR_CODES, ids=lambda code: code.name)
async def test_backend_error_mapping(client, backend, code):
    backend.recorder.errors["GetTask"] = (code, f"detail for {code.name}", ())
    response = await client.get("/platform/v1/task/t1")
    assert response.status_code == EXPECTED_HTTP_STATUS[code.name]
    assert response.json() == {
        "success": False,
        "error": {"code": code.name, "message": f"detail for {code.name}"},
    }


async def test_retry_after_passthrough(client, backend):
    backend.recorder.errors["ExecuteTask"] = (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "queue is full",
        (("retry-after", "7"),),
    )
    response = await client.post("/platform/v1/task/execute", json={"client_id": "c"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["code"] == "RESOURCE_EXHAUSTED"


async def test_no_retry_after_without_metadata(client, backend):
    backend.recorder.errors["GetTask"] = (grpc.StatusCode.NOT_FOUND, "no task", ())
    response = await client.get("/platform/v1/task/t1")
    assert "retry-after" not in response.headers


async def test_unhosted_service_unimplemented(client):
    response = await client.get("/platform/v1/tenants")
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "UNIMPLEMENTED"


async def test_unknown_route_404(client):
    response = await client.get("/platform/v1/nothing")
    assert response.status_code == 404
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_wrong_method_405(client):
    response = await client.patch("/platform/v1/tasks")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "UNIMPLEMENTED"


async def test_head_matches_get(client, backend):
    backend.recorder.responses["GetTask"] = task_pb2.GetTaskResponse(
        task=_completed_task()
    )
    got = await client.get("/platform/v1/task/t1")
    head = await client.head("/platform/v1/task/t1")
    assert got.status_code == 200
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["content-type"] == got.headers["content-type"]
    assert backend.recorder.requests["GetTask"].task_id == "t1"


async def test_head_list_and_errors(client, backend):
    listed = await client.head("/platform/v1/tasks", params={"limit": "5"})
    assert listed.status_code == 200
    assert backend.recorder.requests["ListTasks"].limit == 5
    backend.recorder.errors["GetTask"] = (grpc.StatusCode.NOT_FOUND, "no task", ())
    got = await client.get("/platform/v1/task/t1")
    head = await client.head("/platform/v1/task/t1")
    assert head.status_code == 404
    assert head.headers["content-length"] == got.headers["content-length"]
    missing = await client.head("/platform/v1/nothing")
    assert missing.status_code == 404
    post_only = await client.head("/auth/login")
    assert post_only.status_code == 405
    assert post_only.headers["allow"] == "POST"


async def test_head_sends_no_body(backend):
    backend.recorder.responses["GetTask"] = task_pb2.GetTaskResponse(
        task=_completed_task()
    )
    app = create_app(EdgeSettings(backend=backend.address))
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "HEAD",
        "scheme": "http",
        "path": "/platform/v1/task/t1",
        "raw_path": b"/platform/v1/task/t1",
        "query_string": b"",
        "headers": [],
        "client": (CLIENT_HOST, 40000),
        "server": ("127.0.0.1", 80),
        "root_path": "",
    }
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app(scope, receive, send), timeout=5)
    start = sent[0]
    headers = dict(start["headers"])
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert start["status"] == 200
    assert int(headers[b"content-length"]) > 0
    assert body == b""


async def test_wrong_method_on_probe_405(client):
    response = await client.post("/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "UNIMPLEMENTED"


async def test_unlisted_method_405_envelope(client):
    response = await client.request("TRACE", "/platform/v1/ris")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "UNIMPLEMENTED"
    assert "x-request-id" in response.headers


async def test_deadline_exceeded_504(make_client, backend):
    backend.recorder.delays["GetTask"] = 2.0
    async with make_client(call_timeout=0.2) as client:
        response = await client.get("/platform/v1/task/t1")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "DEADLINE_EXCEEDED"


async def test_unreachable_backend_503():
    settings = EdgeSettings(backend=f"127.0.0.1:{unused_port()}", call_timeout=2.0)
    async with edge_client(settings) as client:
        response = await client.get("/platform/v1/task/t1")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UNAVAILABLE"


# Bad input -------------------------------------------------------------------

_BAD_INPUTS = [
    ("POST", "/platform/v1/task/execute", b"{", "not valid JSON"),
    ("POST", "/platform/v1/task/execute", b"[1, 2]", "JSON object"),
    ("POST", "/platform/v1/task/execute", b'{"nope": 1}', '"nope"'),
    ("POST", "/platform/v1/task/execute", b'{"timeout": "soon"}', '"timeout"'),
    ("POST", "/platform/v1/task/execute", b'{"priority": "urgent"}', "lowest, low"),
    (
        "POST",
        "/platform/v1/task/execute",
        b'{"task": {"url": "http://127.0.0.1:1/"}}',
        '"task.type"',
    ),
    (
        "POST",
        "/platform/v1/task/execute",
        b'{"client_id": "c-1", "task": {"command": "true"}}',
        '"task.type" is required to choose the payload; set it to one of '
        "http_request, command, docker_service",
    ),
    ("GET", "/platform/v1/ris/abc", b"", 'path parameter "id"'),
    ("GET", "/platform/v1/ris?pge=2", b"", 'query parameter "pge"'),
    ("GET", "/platform/v1/ris?status=gone", b"", "active, inactive"),
]


@pytest.mark.parametrize(("method", "url", "body", "expected"), _BAD_INPUTS)
async def test_bad_input_400(client, backend, method, url, body, expected):
    response = await client.request(
        method, url, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert expected in error["message"]
    await _assert_still_serving(client, backend)


# Each body spells a lone surrogate as a JSON escape. The error message shows
# it as a \uXXXX escape, because UTF-8 cannot encode it.
_LONE_SURROGATE_INPUTS = [
    (
        "/auth/login",
        rb'{"username": "\udfff", "password": "x"}',
        'field "username": invalid Unicode (lone surrogate)',
    ),
    ("/auth/login", rb'{"\ud800": "a"}', 'field "\\ud800": unknown field'),
    ("/auth/login", rb'{"\ud800": 1, "\ud800": 2}', 'key "\\ud800" appears twice'),
    (
        "/platform/v1/task/execute",
        rb'{"task": {"type": "http_request", "headers": {"\ud800": "v"}}}',
        'field "task.headers.\\ud800": invalid Unicode (lone surrogate)',
    ),
    (
        "/platform/v1/task/execute",
        rb'{"task": {"type": "http_request", "headers": {"A": "\udc00"}}}',
        'field "task.headers.A": invalid Unicode (lone surrogate)',
    ),
    (
        "/platform/v1/task/execute",
        rb'{"task": {"type": "command", "args": ["ok", "x\ud800y"]}}',
        'field "task.args[1]": invalid Unicode (lone surrogate)',
    ),
    (
        "/platform/v1/task/execute",
        rb'{"priority": "\ud800"}',
        'field "priority": invalid Unicode (lone surrogate)',
    ),
]


@pytest.mark.parametrize(("url", "body", "expected"), _LONE_SURROGATE_INPUTS)
async def test_lone_surrogate_400(client, backend, url, body, expected):
    response = await client.post(
        url, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert expected in error["message"]
    assert backend.recorder.requests == {}
    await _assert_still_serving(client, backend)


@pytest.mark.parametrize(
    ("password", "json_type"),
    [
        (12345, "a number"),
        (True, "a boolean"),
        (["secret-in-array"], "an array"),
        ({"secret-key": "secret-value"}, "an object"),
    ],
)
async def test_type_error_hides_value(client, backend, caplog, password, json_type):
    caplog.set_level(logging.INFO, logger="ris_edge.api")
    response = await client.post(
        "/auth/login", json={"username": "admin", "password": password}
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message == f'field "password": expected a string, got {json_type}'
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "rejected request" in logged
    for secret in ("12345", "True", "true", "secret"):
        assert secret not in logged
        assert secret not in message
    assert "Login" not in backend.recorder.requests


_LOG_FORGERY_INPUTS = [
    ("GET", "/platform/v1/ris?status=a%00b", b"", '"a\\x00b"'),
    (
        "POST",
        "/platform/v1/task/execute",
        b'{"priority": "x\\nINFO ris_edge.api: forged\\r"}',
        "\\nINFO ris_edge.api: forged\\r",
    ),
    ("POST", "/platform/v1/task/execute", b'{"bad\\u0085key": 1}', "bad\\x85key"),
    ("POST", "/auth/login", b'{"\\ud800": "a"}', "\\ud800"),
]


@pytest.mark.parametrize(("method", "url", "body", "escaped"), _LOG_FORGERY_INPUTS)
async def test_rejected_request_log_escaped(client, caplog, method, url, body, escaped):
    caplog.set_level(logging.INFO, logger="ris_edge.api")
    response = await client.request(
        method, url, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    (line,) = [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("rejected request")
    ]
    assert escaped in line
    for character in ("\x00", "\n", "\r", "\x85", "\ud800"):
        assert character not in line
    line.encode("utf-8")


async def test_backend_error_log_escaped(client, backend, caplog):
    caplog.set_level(logging.WARNING, logger="ris_edge.api")
    backend.recorder.errors["GetTask"] = (
        grpc.StatusCode.INTERNAL,
        "task t\nWARNING forged line",
        (),
    )
    response = await client.get("/platform/v1/task/t1")
    assert response.status_code == 500
    (line,) = [record.getMessage() for record in caplog.records]
    assert "task t\\nWARNING forged line" in line
    assert "\n" not in line


async def test_body_too_large_413(make_client, backend):
    async with make_client(max_body_bytes=64) as client:
        response = await client.post(
            "/auth/login", json={"username": "u" * 100, "password": "p"}
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "INVALID_ARGUMENT"
        assert "64 bytes" in response.json()["error"]["message"]
        assert "Login" not in backend.recorder.requests
        await _assert_still_serving(client, backend)


async def test_body_too_large_streamed_413(make_client, backend):
    async def chunks():
        for _ in range(4):
            yield b" " * 40

    async with make_client(max_body_bytes=64) as client:
        response = await client.post("/auth/login", content=chunks())
    assert response.status_code == 413


# Probes ----------------------------------------------------------------------


async def test_health_healthy(client, backend):
    backend.recorder.responses["GetHealth"] = system_pb2.GetHealthResponse(
        status="healthy",
        version="1.0.0",
        timestamp=Timestamp(seconds=1700000000),
        components=system_pb2.HealthComponents(
            database=system_pb2.DatabaseHealth(status="connected", response_time=3)
        ),
    )
    response = await client.get("/health", headers={"Authorization": "Bearer t"})
    assert response.status_code == 200
    body = response.json()
    assert "success" not in body
    assert body["status"] == "healthy"
    assert body["timestamp"] == "2023-11-14T22:13:20Z"
    assert body["components"]["database"]["response_time"] == 3
    assert "authorization" not in backend.recorder.metadata["GetHealth"]


async def test_health_unhealthy_503(client, backend):
    backend.recorder.responses["GetHealth"] = system_pb2.GetHealthResponse(
        status="unhealthy"
    )
    response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"


async def test_ready_serving_and_not(client, backend):
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    await backend.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    not_ready = await client.get("/ready")
    assert not_ready.status_code == 503
    assert not_ready.json()["status"] == "not_ready"


async def test_probes_unreachable_backend():
    settings = EdgeSettings(backend=f"127.0.0.1:{unused_port()}", probe_timeout=2.0)
    async with edge_client(settings) as client:
        health = await client.get("/health")
        ready = await client.get("/ready")
    assert health.status_code == 503
    assert health.json()["status"] == "unhealthy"
    assert health.json()["error"]["code"] == "UNAVAILABLE"
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"


# Documents and CORS ----------------------------------------------------------


async def test_openapi_served_and_docs_off(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "post" in paths["/platform/v1/task/execute"]
    assert "/health" in paths
    docs = await client.get("/docs")
    assert docs.status_code == 404


async def test_cors_preflight(make_client):
    async with make_client(
        cors_enabled=True, cors_allowed_origins=["http://127.0.0.1:3000"]
    ) as client:
        response = await client.options(
            "/platform/v1/task/execute",
            headers={
                "Origin": "http://127.0.0.1:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"
    assert "x-request-id" in response.headers


# Client disconnect -----------------------------------------------------------


async def test_client_disconnect_cancels_call(backend):
    backend.recorder.delays["GetTask"] = 5.0
    app = create_app(EdgeSettings(backend=backend.address))
    messages = [
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    ]
    sent = []

    async def receive():
        if len(messages) == 1:
            await asyncio.sleep(0.2)
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/platform/v1/task/t1",
        "raw_path": b"/platform/v1/task/t1",
        "query_string": b"",
        "headers": [],
        "client": (CLIENT_HOST, 40000),
        "server": ("127.0.0.1", 80),
        "root_path": "",
    }
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app(scope, receive, send), timeout=3)
        for _ in range(100):
            if "GetTask" in backend.recorder.cancelled:
                break
            await asyncio.sleep(0.01)
    assert sent[0]["status"] == 499
    assert "GetTask" in backend.recorder.cancelled
