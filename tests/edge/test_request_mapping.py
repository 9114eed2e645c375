"""Building request messages from path, query and body."""

from __future__ import annotations

import pytest

from ris.v1 import auth_pb2, client_pb2, task_pb2
from ris_edge.request_mapping import InvalidRequestError, build_request
from ris_edge.routes import build_route_table


def _build(method: str, path: str, query=(), body: bytes = b""):
    match = build_route_table().match(method, path)
    return build_request(match.route, match.path_params, list(query), body)


def _error(method: str, path: str, query=(), body: bytes = b"") -> str:
    with pytest.raises(InvalidRequestError) as raised:
        _build(method, path, query, body)
    return str(raised.value)


def test_int64_path_param():
    assert _build("GET", "/platform/v1/ris/42") == client_pb2.GetClientRequest(id=42)


@pytest.mark.parametrize("value", ["abc", "1.5", "99999999999999999999"])
def test_bad_int64_path_param(value):
    message = _error("GET", f"/platform/v1/ris/{value}")
    assert 'path parameter "id"' in message


def test_path_overrides_body():
    request = _build(
        "POST",
        "/platform/v1/task/t-path/cancel",
        body=b'{"task_id": "t-body", "reason": "stop"}',
    )
    assert request == task_pb2.CancelTaskRequest(task_id="t-path", reason="stop")


def test_query_ints_and_enums():
    request = _build(
        "GET",
        "/platform/v1/ris",
        [
            ("page", "2"),
            ("per_page", "50"),
            ("status", "active"),
            ("connectionStatus", "2"),
        ],
    )
    assert request == client_pb2.ListClientsRequest(
        page=2,
        per_page=50,
        status=client_pb2.CLIENT_STATUS_ACTIVE,
        connection_status=client_pb2.CONNECTION_STATUS_DISCONNECTED,
    )


def test_query_enum_full_name():
    request = _build("GET", "/platform/v1/tasks", [("status", "TASK_STATUS_FAILED")])
    assert request.status == task_pb2.TASK_STATUS_FAILED


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("nope", "1")], 'unknown query parameter "nope"'),
        ([("page", "x")], 'query parameter "page"'),
        ([("page", "1"), ("page", "2")], "given 2 times"),
        ([("status", "bogus")], "active, inactive"),
        ([("page", "1" * 5000)], 'query parameter "page"'),
    ],
)
def test_bad_query(query, expected):
    assert expected in _error("GET", "/platform/v1/ris", query)


def test_unknown_query_lists_allowed():
    message = _error("GET", "/platform/v1/tasks", [("limt", "5")])
    assert "status, client_id, limit, page_token" in message


def test_query_on_path_field_rejected():
    message = _error("GET", "/platform/v1/task/t1", [("task_id", "t2")])
    assert "path or body binds" in message


def test_query_on_body_route_rejected():
    message = _error("POST", "/auth/login", [("username", "u")], b"{}")
    assert 'unknown query parameter "username"' in message
    assert "JSON body" in message


def test_delete_with_json_body():
    assert _build("DELETE", "/platform/v1/ris", body=b'{"id": "7"}') == (
        client_pb2.DeleteClientRequest(id=7)
    )


def test_empty_body_is_empty_message():
    assert _build("POST", "/auth/logout") == auth_pb2.LogoutRequest()


def test_body_on_get_rejected():
    assert "takes no request body" in _error("GET", "/platform/v1/tasks", body=b"{}")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b"[1]", "expected a JSON object"),
        (b'"text"', "expected a JSON object"),
        (b'{"a": 1, "a": 2}', "appears twice"),
        (b'{"timeout": NaN}', "NaN"),
        (b"[" * 100000, "too deeply"),
        (b'{"timeout": ' + b"1" * 5000 + b"}", "too many digits"),
        (b'{"timeout": ' + b"1" * 4000 + b"}", '"timeout"'),
        (b'{"timeout": "' + b"1" * 5000 + b'"}', '"timeout"'),
        (b'{"priority": "' + b"9" * 5000 + b'"}', '"priority"'),
    ],
)
def test_bad_body(body, expected):
    assert expected in _error("POST", "/platform/v1/task/execute", body=body)
