"""HTTP executor against a real local HTTP server."""

import asyncio
import base64
import logging
import socket
import ssl
import threading
import time
from http.server import ThreadingHTTPServer

import pytest
from agent_test_support import RecordingHandler

from ris.v1 import task_pb2
from ris_agent.execution import ExecutionContext
from ris_agent.http_executor import execute_http_request

COMPLETED = task_pb2.TASK_STATUS_COMPLETED
FAILED = task_pb2.TASK_STATUS_FAILED


def _context(timeout: float = 10, limit: int = 64 * 1024) -> ExecutionContext:
    return ExecutionContext(
        task_id="http-1",
        attempt=1,
        timeout=timeout,
        max_output_bytes=limit,
        allow_privileged=False,
        cancel_event=asyncio.Event(),
    )


def _spec(url: str, **fields) -> task_pb2.TaskSpec:
    return task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_HTTP_REQUEST,
        http_request=task_pb2.HttpRequestTask(url=url, **fields),
    )


async def test_http_get_returns_response(http_server, http_base):
    outcome = await execute_http_request(_spec(f"{http_base}/hello"), _context())

    assert outcome.status == COMPLETED
    response = outcome.result.http_response
    assert response.status_code == 200
    assert response.body.startswith("hello ")
    assert response.headers["content-type"] == "text/plain"
    assert not response.body_truncated
    assert http_server.requests[0]["method"] == "GET"
    assert http_server.requests[0]["path"] == "/hello"


async def test_http_post_sends_body_and_headers(http_server, http_base):
    spec = _spec(
        f"{http_base}/submit",
        method="POST",
        body='{"a": 1}',
        headers={"Content-Type": "application/json", "X-Trace": "t-1"},
    )

    outcome = await execute_http_request(spec, _context())

    assert outcome.status == COMPLETED
    received = http_server.requests[0]
    assert received["method"] == "POST"
    assert received["body"] == b'{"a": 1}'
    assert received["headers"]["content-type"] == "application/json"
    assert received["headers"]["x-trace"] == "t-1"


async def test_http_head_has_empty_body(http_server, http_base):
    outcome = await execute_http_request(
        _spec(f"{http_base}/x", method="HEAD"), _context()
    )

    assert outcome.status == COMPLETED
    assert outcome.result.http_response.body == ""
    assert http_server.requests[0]["method"] == "HEAD"


async def test_http_repeated_headers_joined(http_base):
    outcome = await execute_http_request(_spec(f"{http_base}/cookies"), _context())

    assert outcome.result.http_response.headers["set-cookie"] == "a=1, b=2"


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        (
            task_pb2.HttpAuth(
                type=task_pb2.HTTP_AUTH_TYPE_BASIC, username="ann", password="pä:ss"
            ),
            "authorization",
            "Basic " + base64.b64encode("ann:pä:ss".encode()).decode(),
        ),
        (
            task_pb2.HttpAuth(
                type=task_pb2.HTTP_AUTH_TYPE_BEARER, bearer_token="tok-1"
            ),
            "authorization",
            "Bearer tok-1",
        ),
        (
            task_pb2.HttpAuth(type=task_pb2.HTTP_AUTH_TYPE_API_KEY, api_key="key-1"),
            "x-api-key",
            "key-1",
        ),
        (
            task_pb2.HttpAuth(
                type=task_pb2.HTTP_AUTH_TYPE_API_KEY,
                api_key="key-2",
                custom_header="X-Service-Key",
            ),
            "x-service-key",
            "key-2",
        ),
    ],
)
async def test_http_auth_header_sent(http_server, http_base, auth, header, expected):
    outcome = await execute_http_request(
        _spec(f"{http_base}/auth", auth=auth), _context()
    )

    assert outcome.status == COMPLETED
    assert http_server.requests[0]["headers"][header] == expected


async def test_http_auth_overrides_task_header(http_server, http_base):
    auth = task_pb2.HttpAuth(type=task_pb2.HTTP_AUTH_TYPE_BEARER, bearer_token="real")
    spec = _spec(f"{http_base}/auth", auth=auth, headers={"authorization": "stale"})

    await execute_http_request(spec, _context())

    assert http_server.requests[0]["headers"]["authorization"] == "Bearer real"


async def test_http_error_status_fails_with_response(http_base):
    outcome = await execute_http_request(_spec(f"{http_base}/status/500"), _context())

    assert outcome.status == FAILED
    assert outcome.result.http_response.status_code == 500
    assert outcome.result.http_response.body == "status page"
    assert "unexpected status 500" in outcome.result.error


async def test_http_expected_status_mismatch_fails(http_base):
    validation = task_pb2.HttpValidation(expected_status=[201, 202])

    outcome = await execute_http_request(
        _spec(f"{http_base}/ok", validation=validation), _context()
    )

    assert outcome.status == FAILED
    assert outcome.result.http_response.status_code == 200
    assert "expected one of [201, 202]" in outcome.result.error


async def test_http_expected_status_accepts_404(http_base):
    validation = task_pb2.HttpValidation(expected_status=[404])

    outcome = await execute_http_request(
        _spec(f"{http_base}/status/404", validation=validation), _context()
    )

    assert outcome.status == COMPLETED


async def test_http_body_contains_validation(http_base):
    passing = task_pb2.HttpValidation(body_contains='"path": "/ok"')
    failing = task_pb2.HttpValidation(body_contains="not in the page")

    passed = await execute_http_request(
        _spec(f"{http_base}/ok", validation=passing), _context()
    )
    rejected = await execute_http_request(
        _spec(f"{http_base}/ok", validation=failing), _context()
    )

    assert passed.status == COMPLETED
    assert rejected.status == FAILED
    assert "does not contain the expected text" in rejected.result.error
    assert rejected.result.http_response.status_code == 200


async def test_http_body_truncated_at_limit(http_base):
    outcome = await execute_http_request(
        _spec(f"{http_base}/big"), _context(limit=1000)
    )

    assert outcome.status == COMPLETED
    response = outcome.result.http_response
    assert response.body == "x" * 1000
    assert response.body_truncated


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_http_transport_error_fails():
    port = _closed_port()

    outcome = await execute_http_request(
        _spec(f"http://127.0.0.1:{port}/x?token=secret"), _context()
    )

    assert outcome.status == FAILED
    assert not outcome.result.HasField("http_response")
    assert f"request to http://127.0.0.1:{port}/x failed: ConnectError" in (
        outcome.result.error
    )
    assert "secret" not in outcome.result.error
    assert outcome.result.retryable


async def test_http_error_status_not_retryable(http_server, http_base):
    outcome = await execute_http_request(_spec(f"{http_base}/status/503"), _context())

    assert outcome.status == FAILED
    assert not outcome.result.retryable


async def test_http_transport_error_retried(caplog):
    port = _closed_port()
    caplog.set_level(logging.WARNING, logger="ris_agent.http_executor")

    outcome = await execute_http_request(
        _spec(f"http://127.0.0.1:{port}/x", retries=1), _context()
    )

    assert outcome.status == FAILED
    retries = [record for record in caplog.records if "retry 1 of 1" in record.message]
    assert len(retries) == 1


async def test_http_error_status_not_retried(http_server, http_base):
    await execute_http_request(_spec(f"{http_base}/status/503", retries=3), _context())

    assert len(http_server.requests) == 1


async def test_http_timeout_reports_timeout(http_base):
    started = time.monotonic()

    outcome = await execute_http_request(
        _spec(f"{http_base}/slow", timeout=1), _context()
    )

    assert outcome.status == task_pb2.TASK_STATUS_TIMEOUT
    assert "timed out after 1 s" in outcome.result.error
    assert time.monotonic() - started < 2.5


async def test_http_cancellation_aborts_request(http_base):
    context = _context()
    execution = asyncio.create_task(
        execute_http_request(_spec(f"{http_base}/slow"), context)
    )
    await asyncio.sleep(0.2)
    started = time.monotonic()

    context.cancel_event.set()
    outcome = await asyncio.wait_for(execution, 2)

    assert outcome.status == task_pb2.TASK_STATUS_CANCELLED
    assert time.monotonic() - started < 1


async def test_http_invalid_method_fails():
    outcome = await execute_http_request(
        _spec("http://127.0.0.1:1/", method="TRACE"), _context()
    )

    assert outcome.status == FAILED
    assert "invalid method 'TRACE'" in outcome.result.error


@pytest.fixture
def https_base(ca, tmp_path):
    """An HTTPS server whose certificate comes from the test CA, not a public one."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    server.daemon_threads = True
    server.requests = []
    certificate_path = tmp_path / "server.crt"
    key_path = tmp_path / "server.key"
    certificate_path.write_bytes(ca.server_certificate_pem)
    key_path.write_bytes(ca.server_key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_http_verify_tls_default_rejects_unknown_ca(https_base):
    outcome = await execute_http_request(_spec(f"{https_base}/x"), _context())

    assert outcome.status == FAILED
    assert "ConnectError" in outcome.result.error


async def test_http_verify_tls_false_accepts_unknown_ca(https_base):
    outcome = await execute_http_request(
        _spec(f"{https_base}/x", verify_tls=False), _context()
    )

    assert outcome.status == COMPLETED
    assert outcome.result.http_response.status_code == 200
