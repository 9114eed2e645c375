"""JSON <-> protobuf conversion rules of ris_edge.jsonmap."""

from __future__ import annotations

import json

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ris.v1 import auth_pb2, client_pb2, common_pb2, system_pb2, task_pb2
from ris_edge.contract import enum_short_name
from ris_edge.jsonmap import (
    JsonMappingError,
    message_to_json,
    parse_json_into,
    parse_text_value,
)


def _parse(message_class, value):
    message = message_class()
    parse_json_into(message, value)
    return message


def _error(message_class, value) -> str:
    with pytest.raises(JsonMappingError) as raised:
        _parse(message_class, value)
    return str(raised.value)


# Output --------------------------------------------------------------------


def test_task_result_inline_output_exact():
    result = task_pb2.TaskResult(
        http_response=task_pb2.HttpResponse(status_code=200, body="OK"),
        execution_time=1250,
    )
    rendered = json.dumps(message_to_json(result), separators=(",", ":"))
    assert rendered == (
        '{"status_code":200,"headers":{},"body":"OK","body_truncated":false,'
        '"execution_time":1250,"error":"","retryable":false}'
    )


@pytest.mark.parametrize(
    ("enum", "number", "short"),
    [
        (task_pb2.TaskStatus, task_pb2.TASK_STATUS_COMPLETED, "completed"),
        (task_pb2.TaskPriority, task_pb2.TASK_PRIORITY_NORMAL, "normal"),
        (task_pb2.TaskType, task_pb2.TASK_TYPE_HTTP_REQUEST, "http_request"),
        (common_pb2.Role, common_pb2.ROLE_ADMIN, "admin"),
        (task_pb2.HttpAuthType, task_pb2.HTTP_AUTH_TYPE_API_KEY, "api_key"),
    ],
)
def test_enum_short_names(enum, number, short):
    assert enum_short_name(enum.DESCRIPTOR.values_by_number[number]) == short


def test_enum_output_and_zero_omitted():
    task = task_pb2.Task(
        task_id="t1",
        status=task_pb2.TASK_STATUS_COMPLETED,
        priority=task_pb2.TASK_PRIORITY_NORMAL,
    )
    rendered = message_to_json(task)
    assert rendered["status"] == "completed"
    assert rendered["priority"] == "normal"
    assert "type" not in rendered


def test_undefined_enum_number_written_as_number():
    rendered = message_to_json(task_pb2.Task(priority=42))
    assert rendered["priority"] == 42


def test_defaults_present_messages_absent():
    rendered = message_to_json(task_pb2.Task())
    assert rendered["task_id"] == ""
    assert rendered["timeout"] == 0
    assert rendered["dead_lettered"] is False
    for key in ("payload", "result", "created_at", "progress"):
        assert key not in rendered


def test_repeated_and_map_always_present():
    rendered = message_to_json(task_pb2.CommandTask())
    assert rendered["args"] == []
    assert rendered["environment"] == {}


def test_int64_output_as_number():
    rendered = message_to_json(client_pb2.Client(id=2**62, created_date=1700000000000))
    assert rendered["id"] == 2**62
    assert rendered["created_date"] == 1700000000000
    assert json.loads(json.dumps(rendered))["id"] == 2**62


def test_timestamp_output_rfc3339_z():
    stamp = Timestamp(seconds=1700000000, nanos=5_000_000)
    rendered = message_to_json(client_pb2.Client(last_seen=stamp))
    assert rendered["last_seen"] == "2023-11-14T22:13:20.005Z"


def test_proto3_optional_only_when_set():
    unset = message_to_json(client_pb2.UpdateClientRequest(id=1))
    empty_name = message_to_json(client_pb2.UpdateClientRequest(id=1, name=""))
    assert "name" not in unset
    assert "host" not in unset
    assert empty_name["name"] == ""


def test_optional_bool_output():
    rendered = message_to_json(task_pb2.HttpRequestTask(verify_tls=False))
    assert rendered["verify_tls"] is False
    assert "verify_tls" not in message_to_json(task_pb2.HttpRequestTask())


def test_async_json_name_output():
    rendered = message_to_json(task_pb2.ExecuteTaskRequest(run_async=True))
    assert rendered["async"] is True
    assert "run_async" not in rendered


def test_inline_payload_output_in_task():
    spec = task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_COMMAND,
        command=task_pb2.CommandTask(command="ls", args=["-l"]),
    )
    rendered = message_to_json(task_pb2.Task(payload=spec))["payload"]
    assert rendered["type"] == "command"
    assert rendered["command"] == "ls"
    assert rendered["args"] == ["-l"]
    assert "http_request" not in rendered


def test_login_response_role_and_expiry():
    response = auth_pb2.LoginResponse(
        access_token="a",
        expires_in=900,
        user=auth_pb2.User(id="u", role=common_pb2.ROLE_ADMIN),
    )
    rendered = message_to_json(response)
    assert rendered["user"]["role"] == "admin"
    assert rendered["expires_in"] == 900


def test_non_finite_double_output():
    rendered = message_to_json(
        common_pb2.ResourceUsage(cpu=float("nan"), disk=float("inf"))
    )
    assert rendered["cpu"] == "NaN"
    assert rendered["disk"] == "Infinity"


# Input ---------------------------------------------------------------------


def test_inline_task_spec_input():
    spec = _parse(
        task_pb2.TaskSpec,
        {
            "type": "http_request",
            "method": "GET",
            "url": "http://127.0.0.1:1/x",
            "headers": {"A": "b"},
        },
    )
    expected = task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_HTTP_REQUEST,
        http_request=task_pb2.HttpRequestTask(
            method="GET", url="http://127.0.0.1:1/x", headers={"A": "b"}
        ),
    )
    assert spec == expected


def test_inline_input_type_after_payload():
    spec = _parse(
        task_pb2.TaskSpec, {"url": "http://127.0.0.1:1/", "type": "HTTP_REQUEST"}
    )
    assert spec.http_request.url == "http://127.0.0.1:1/"


def test_nested_payload_input():
    spec = _parse(
        task_pb2.TaskSpec,
        {"type": "http_request", "http_request": {"method": "GET"}},
    )
    assert spec.WhichOneof("payload") == "http_request"
    assert spec.http_request.method == "GET"


def test_command_key_is_payload_field():
    spec = _parse(
        task_pb2.TaskSpec, {"type": "command", "command": "ls", "args": ["-l"]}
    )
    assert spec.command == task_pb2.CommandTask(command="ls", args=["-l"])


def test_command_nested_form_object():
    spec = _parse(task_pb2.TaskSpec, {"type": "command", "command": {"command": "ls"}})
    assert spec.command.command == "ls"


def test_type_alone_selects_empty_member():
    spec = _parse(task_pb2.TaskSpec, {"type": "docker_service"})
    assert spec.WhichOneof("payload") == "docker_service"


def test_payload_without_type_rejected():
    message = _error(task_pb2.TaskSpec, {"method": "GET"})
    assert '"method"' in message
    assert '"type"' in message
    assert "http_request, command, docker_service" in message


@pytest.mark.parametrize("key", ["command", "args", "method"])
def test_payload_key_without_type_asks_for_type(key):
    message = _error(task_pb2.ExecuteTaskRequest, {"task": {key: "true"}})
    assert message == (
        f'field "task.{key}": "task.type" is required to choose the payload; '
        "set it to one of http_request, command, docker_service"
    )


def test_unknown_key_without_type_says_unknown():
    message = _error(task_pb2.TaskSpec, {"nope": 1})
    assert 'field "nope": unknown field of ris.v1.TaskSpec' in message
    assert '"type" set to one of http_request, command, docker_service' in message


def test_nested_member_without_type_needs_object():
    message = _error(task_pb2.TaskSpec, {"http_request": "x"})
    assert message == 'field "http_request": expected a JSON object, got a string'


def test_type_without_member_rejected():
    message = _error(task_pb2.TaskSpec, {"type": 9, "url": "x"})
    assert '"url"' in message
    assert "no payload" in message


def test_unknown_payload_key_rejected():
    message = _error(task_pb2.TaskSpec, {"type": "http_request", "nope": 1})
    assert '"nope"' in message
    assert "ris.v1.HttpRequestTask" in message


def test_nested_and_inline_together_rejected():
    message = _error(
        task_pb2.TaskSpec,
        {"type": "http_request", "http_request": {}, "url": "http://127.0.0.1:1/"},
    )
    assert "nested" in message


def test_round_trip_execute_request():
    original = task_pb2.ExecuteTaskRequest(
        client_id="c",
        task=task_pb2.TaskSpec(
            type=task_pb2.TASK_TYPE_HTTP_REQUEST,
            http_request=task_pb2.HttpRequestTask(
                method="POST",
                url="http://127.0.0.1:1/x",
                headers={"A": "b"},
                auth=task_pb2.HttpAuth(type=task_pb2.HTTP_AUTH_TYPE_BEARER),
                validation=task_pb2.HttpValidation(expected_status=[200, 201]),
                verify_tls=False,
            ),
        ),
        timeout=30,
        priority=task_pb2.TASK_PRIORITY_HIGH,
        run_async=True,
    )
    assert _parse(task_pb2.ExecuteTaskRequest, message_to_json(original)) == original


def test_round_trip_task_with_timestamps():
    original = task_pb2.Task(
        task_id="t",
        status=task_pb2.TASK_STATUS_RUNNING,
        created_at=Timestamp(seconds=1700000000, nanos=123_000_000),
        progress=task_pb2.TaskProgress(percent=50, updated_at=Timestamp(seconds=1)),
    )
    assert _parse(task_pb2.Task, message_to_json(original)) == original


@pytest.mark.parametrize("key", ["async", "run_async", "runAsync"])
def test_async_accepted_names(key):
    assert _parse(task_pb2.ExecuteTaskRequest, {key: True}).run_async is True


def test_camel_case_input():
    request = _parse(task_pb2.ExecuteTaskRequest, {"clientId": "c", "maxAttempts": 3})
    assert request.client_id == "c"
    assert request.max_attempts == 3


def test_two_names_one_field_rejected():
    message = _error(task_pb2.ExecuteTaskRequest, {"async": True, "run_async": False})
    assert "async" in message


@pytest.mark.parametrize(
    "value", [3, "3", "normal", "NORMAL", "Normal", "TASK_PRIORITY_NORMAL"]
)
def test_priority_input_forms(value):
    request = _parse(task_pb2.ExecuteTaskRequest, {"priority": value})
    assert request.priority == task_pb2.TASK_PRIORITY_NORMAL


def test_undefined_enum_number_passed_through():
    assert _parse(task_pb2.ExecuteTaskRequest, {"priority": 9}).priority == 9


def test_unknown_enum_name_lists_allowed():
    message = _error(task_pb2.ExecuteTaskRequest, {"priority": "urgent"})
    assert '"priority"' in message
    assert "lowest, low, normal, high, critical" in message


@pytest.mark.parametrize("value", [2**62, str(2**62), "-5"])
def test_int64_input_number_or_string(value):
    request = _parse(client_pb2.DeleteClientRequest, {"id": value})
    assert request.id == int(value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timeout": "abc"}, "timeout"),
        ({"timeout": 1.5}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": 2**31}, "timeout"),
        ({"client_id": 5}, "client_id"),
        ({"async": "yes"}, "async"),
        ({"task": "x"}, "task"),
        ({"task": {"type": "http_request", "headers": []}}, "task.headers"),
        ({"task": {"type": "http_request", "headers": {"a": 1}}}, "task.headers.a"),
        (
            {"task": {"type": "command", "args": ["a", None]}},
            "task.args[1]",
        ),
        ({"nope": 1}, "nope"),
    ],
)
def test_bad_values_name_field(body, field):
    message = _error(task_pb2.ExecuteTaskRequest, body)
    assert f'"{field}"' in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"client_id": 12345}, 'field "client_id": expected a string, got a number'),
        ({"client_id": 1.5}, 'field "client_id": expected a string, got a number'),
        ({"client_id": True}, 'field "client_id": expected a string, got a boolean'),
        ({"async": "secret"}, 'field "async": expected true or false, got a string'),
        ({"timeout": "secret"}, 'field "timeout": expected an integer, got a string'),
        ({"timeout": [1]}, 'field "timeout": expected an integer, got an array'),
        ({"task": "secret"}, 'field "task": expected a JSON object, got a string'),
        (
            {"task": {"type": "command", "args": "secret"}},
            'field "task.args": expected a JSON array, got a string',
        ),
        (
            {"task": {"type": "http_request", "headers": {"A": 12345}}},
            'field "task.headers.A": expected a string, got a number',
        ),
        (
            {"priority": {"secret": 1}},
            'field "priority": expected a TaskPriority name or number, got an object',
        ),
    ],
)
def test_type_error_names_json_type(body, expected):
    assert _error(task_pb2.ExecuteTaskRequest, body) == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_id": "\udfff"}, "client_id"),
        ({"client_id": "ok\ud800ok"}, "client_id"),
        ({"task": {"type": "command", "args": ["a", "\ud800"]}}, "task.args[1]"),
        (
            {"task": {"type": "http_request", "headers": {"A": "\udc00"}}},
            "task.headers.A",
        ),
        (
            {"task": {"type": "http_request", "headers": {"\ud800": "v"}}},
            "task.headers.\ud800",
        ),
        ({"priority": "\ud800"}, "priority"),
    ],
)
def test_lone_surrogate_rejected(body, field):
    message = _error(task_pb2.ExecuteTaskRequest, body)
    assert message == f'field "{field}": invalid Unicode (lone surrogate)'


def test_surrogate_pair_accepted():
    request = _parse(
        task_pb2.ExecuteTaskRequest, json.loads('{"client_id": "\\ud83d\\ude00"}')
    )
    assert request.client_id == "\U0001f600"


def test_non_object_body_rejected():
    assert "JSON object" in _error(task_pb2.ExecuteTaskRequest, [1, 2])


def test_null_leaves_field_unset():
    request = _parse(task_pb2.ExecuteTaskRequest, {"task": None, "client_id": None})
    assert not request.HasField("task")
    assert request.client_id == ""


def test_timestamp_input():
    health = _parse(
        system_pb2.ClientsHealth, {"last_heartbeat": "2024-01-02T03:04:05Z"}
    )
    assert health.last_heartbeat.seconds == 1704164645


def test_bad_timestamp_rejected():
    message = _error(system_pb2.ClientsHealth, {"last_heartbeat": "yesterday"})
    assert '"last_heartbeat"' in message
    assert "RFC 3339" in message
    assert "yesterday" not in message


def test_optional_input_sets_presence():
    request = _parse(client_pb2.UpdateClientRequest, {"id": 1, "name": ""})
    assert request.HasField("name")
    assert not request.HasField("host")


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), ("FALSE", False), ("True", True)]
)
def test_text_bool(text, expected):
    field = task_pb2.ExecuteTaskRequest.DESCRIPTOR.fields_by_name["run_async"]
    assert parse_text_value(field, text, "query parameter") is expected


def test_text_bool_rejects_other():
    field = task_pb2.ExecuteTaskRequest.DESCRIPTOR.fields_by_name["run_async"]
    with pytest.raises(JsonMappingError):
        parse_text_value(field, "1", 'query parameter "async"')
