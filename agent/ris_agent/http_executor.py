"""Executor of HTTP_REQUEST tasks, using httpx."""

import asyncio
import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ris.v1 import task_pb2
from ris_agent.execution import ExecutionContext, Outcome, effective_timeout, failed
from ris_agent.output import OutputBuffer, decode_output

logger = logging.getLogger(__name__)

CAPABILITY = "http_request"
ALLOWED_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)
MAX_URL_LENGTH = 8192
MAX_RETRIES = 10
DEFAULT_API_KEY_HEADER = "X-API-Key"
# Delay before retry n (from 0) is min(base * 2**n, max) seconds.
_RETRY_BASE_DELAY = 0.5
_RETRY_MAX_DELAY = 5.0


class InvalidHttpTask(Exception):
    """The payload is invalid; the message names the field."""


@dataclass
class _Response:
    status_code: int
    headers: dict[str, str]
    body: str
    body_truncated: bool


def validate_http_task(task: task_pb2.HttpRequestTask) -> str:
    """Check method, URL and retries; return the method in upper case.

    An empty method means GET. Raises InvalidHttpTask naming the field.
    """
    method = (task.method or "GET").upper()
    if method not in ALLOWED_METHODS:
        allowed = ", ".join(sorted(ALLOWED_METHODS))
        raise InvalidHttpTask(
            f"invalid method {task.method!r}: expected one of {allowed}"
        )
    if len(task.url) > MAX_URL_LENGTH:
        raise InvalidHttpTask(f"url is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(task.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidHttpTask(
            f"invalid url {redact_url(task.url)!r}: expected http(s)://HOST/..."
        )
    if not 0 <= task.retries <= MAX_RETRIES:
        raise InvalidHttpTask(
            f"invalid retries {task.retries}: expected 0 to {MAX_RETRIES}"
        )
    return method


def build_auth_headers(auth: task_pb2.HttpAuth) -> dict[str, str]:
    """Return the headers that carry the task's credentials.

    Raises InvalidHttpTask when a field the scheme needs is empty.
    """
    if auth.type == task_pb2.HTTP_AUTH_TYPE_BASIC:
        if not auth.username:
            raise InvalidHttpTask("auth.username is empty for BASIC auth")
        credentials = f"{auth.username}:{auth.password}".encode()
        return {
            "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")
        }
    if auth.type == task_pb2.HTTP_AUTH_TYPE_BEARER:
        if not auth.bearer_token:
            raise InvalidHttpTask("auth.bearer_token is empty for BEARER auth")
        return {"Authorization": f"Bearer {auth.bearer_token}"}
    if auth.type == task_pb2.HTTP_AUTH_TYPE_API_KEY:
        if not auth.api_key:
            raise InvalidHttpTask("auth.api_key is empty for API_KEY auth")
        return {auth.custom_header or DEFAULT_API_KEY_HEADER: auth.api_key}
    return {}


def join_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Merge header pairs into a map, joining repeated names with ", "."""
    merged: dict[str, str] = {}
    for name, value in items:
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def check_response(
    status_code: int,
    body: str,
    body_truncated: bool,
    validation: task_pb2.HttpValidation,
) -> str:
    """Return why the response does not count as success, or "" when it does.

    Success needs a status in expected_status (200 to 399 when empty) and, if
    body_contains is set, that text in the body as received (cut at the limit).
    """
    expected = list(validation.expected_status)
    if expected and status_code not in expected:
        return f"unexpected status {status_code}, expected one of {expected}"
    if not expected and not 200 <= status_code <= 399:
        return f"unexpected status {status_code}, expected 200 to 399"
    if validation.body_contains and validation.body_contains not in body:
        where = (
            "the first part of the body (it was cut)" if body_truncated else "the body"
        )
        return f"{where} does not contain the expected text"
    return ""


def redact_url(url: str) -> str:
    """Return the URL without user info, query and fragment, which may hold secrets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def retry_delay(retry: int) -> float:
    """Return the seconds to wait before retry ``retry`` (from 0)."""
    return min(_RETRY_BASE_DELAY * 2.0 ** min(retry, 16), _RETRY_MAX_DELAY)


async def _send_once(
    client: httpx.AsyncClient, request: httpx.Request, limit: int, timeout: float
) -> _Response:
    async with asyncio.timeout(timeout):
        response = await client.send(request, stream=True)
        try:
            buffer = OutputBuffer(limit)
            async for chunk in response.aiter_bytes():
                buffer.append(chunk)
                if buffer.truncated:
                    break  # the rest is not needed; closing drops the connection
        finally:
            await response.aclose()
    body, truncated = decode_output(
        buffer.data, buffer.truncated, limit, response.charset_encoding or "utf-8"
    )
    return _Response(
        status_code=response.status_code,
        headers=join_headers(response.headers.multi_items()),
        body=body,
        body_truncated=truncated,
    )


async def _send_with_retries(
    client: httpx.AsyncClient,
    request: httpx.Request,
    task: task_pb2.HttpRequestTask,
    context: ExecutionContext,
    timeout: float,
) -> _Response:
    """Send the request; retry transport errors and timeouts up to task.retries times.

    Raises the last httpx.TransportError or TimeoutError.
    """
    for retry in range(task.retries + 1):
        try:
            return await _send_once(client, request, context.max_output_bytes, timeout)
        except (httpx.TransportError, TimeoutError) as error:
            if retry >= task.retries:
                raise
            delay = retry_delay(retry)
            logger.warning(
                "HTTP request of task %s to %s failed (%s); retry %d of %d in %.1f s",
                context.task_id,
                redact_url(task.url),
                _describe(error),
                retry + 1,
                task.retries,
                delay,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _never_sent(error: Exception) -> bool:
    """Tell whether the request failed before any byte reached the server.

    Only then is another attempt safe for any method, so the hub may retry.
    """
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


def _describe(error: Exception) -> str:
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return "timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _build_request(
    client: httpx.AsyncClient, task: task_pb2.HttpRequestTask, method: str
) -> httpx.Request:
    headers = httpx.Headers(dict(task.headers))
    for name, value in build_auth_headers(task.auth).items():
        headers[name] = value
    content = task.body.encode("utf-8") if task.body else None
    return client.build_request(method, task.url, headers=headers, content=content)


def _to_outcome(response: _Response, validation: task_pb2.HttpValidation) -> Outcome:
    output = task_pb2.HttpResponse(
        status_code=response.status_code,
        headers=response.headers,
        body=response.body,
        body_truncated=response.body_truncated,
    )
    error = check_response(
        response.status_code, response.body, response.body_truncated, validation
    )
    status = task_pb2.TASK_STATUS_FAILED if error else task_pb2.TASK_STATUS_COMPLETED
    return Outcome(status, task_pb2.TaskResult(http_response=output, error=error))


async def _request(
    task: task_pb2.HttpRequestTask, method: str, context: ExecutionContext
) -> Outcome:
    timeout = effective_timeout(task.timeout, context)
    verify = task.verify_tls if task.HasField("verify_tls") else True
    async with httpx.AsyncClient(
        verify=verify, timeout=httpx.Timeout(timeout), follow_redirects=False
    ) as client:
        request = _build_request(client, task, method)
        try:
            response = await _send_with_retries(client, request, task, context, timeout)
        except (TimeoutError, httpx.TimeoutException) as error:
            logger.warning("HTTP request of task %s timed out", context.task_id)
            return Outcome(
                task_pb2.TASK_STATUS_TIMEOUT,
                task_pb2.TaskResult(
                    error=f"request timed out after {timeout:g} s",
                    retryable=_never_sent(error),
                ),
            )
        except httpx.HTTPError as error:
            logger.warning(
                "HTTP request of task %s failed: %s", context.task_id, _describe(error)
            )
            outcome = failed(
                f"request to {redact_url(task.url)} failed: {_describe(error)}"
            )
            outcome.result.retryable = _never_sent(error)
            return outcome
    return _to_outcome(response, task.validation)


async def execute_http_request(
    spec: task_pb2.TaskSpec, context: ExecutionContext
) -> Outcome:
    """Send the task's HTTP request and check the response.

    The status is COMPLETED when the response passes validation, and FAILED with
    the response when it does not. An invalid payload or a transport error after
    the retries gives FAILED without a response. TIMEOUT means the last try timed
    out. CANCELLED means the hub cancelled the attempt, which aborts the request.
    """
    task = spec.http_request
    try:
        method = validate_http_task(task)
        build_auth_headers(task.auth)
    except InvalidHttpTask as error:
        logger.warning("rejected HTTP task %s: %s", context.task_id, error)
        return failed(f"invalid http_request task: {error}")

    request = asyncio.ensure_future(_request(task, method, context))
    cancel_wait = asyncio.ensure_future(context.cancel_event.wait())
    try:
        await asyncio.wait({request, cancel_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        cancel_wait.cancel()
        if not request.done():
            request.cancel()  # aborts the request and closes its connection
            await asyncio.wait({request})
    if request.cancelled():
        logger.info("HTTP request of task %s aborted on cancellation", context.task_id)
        return Outcome(
            task_pb2.TASK_STATUS_CANCELLED,
            task_pb2.TaskResult(error="cancelled; request aborted"),
        )
    return request.result()
