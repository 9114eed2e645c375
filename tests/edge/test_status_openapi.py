"""Status mapping, envelopes and the OpenAPI document."""

from __future__ import annotations

import grpc
import pytest

from ris.v1 import client_pb2, task_pb2
from ris_edge.openapi import build_openapi, openapi_path
from ris_edge.routes import build_route_table
from ris_edge.status import (
    code_for_http_status,
    error_body,
    http_status,
    success_body,
)

# The documented mapping, kept apart from the module so that a change there
# has to change this table too.
EXPECTED_HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}


@pytest.mark.parametrize("code", list(grpc.StatusCode), ids=lambda code: code.name)
def test_http_status_table(code):
    assert http_status(code) == EXPECTED_HTTP_STATUS[code.name]


def test_edge_http_errors_codes():
    assert code_for_http_status(404) == grpc.StatusCode.NOT_FOUND
    assert code_for_http_status(405) == grpc.StatusCode.UNIMPLEMENTED
    assert code_for_http_status(413) == grpc.StatusCode.INVALID_ARGUMENT
    assert code_for_http_status(418) == grpc.StatusCode.UNKNOWN


def test_error_body_shape():
    assert error_body(grpc.StatusCode.NOT_FOUND, "no task") == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "no task"},
    }


def test_error_body_escapes_lone_surrogate():
    body = error_body(grpc.StatusCode.INVALID_ARGUMENT, 'field "\ud800x": unknown')
    message = body["error"]["message"]
    assert message == 'field "\\ud800x": unknown'
    assert message.encode("utf-8")


def test_success_body_with_response_body():
    response = client_pb2.ListClientsResponse(
        clients=[client_pb2.Client(id=1, name="a")], total=1, page=1, per_page=10
    )
    body = success_body(response, "clients")
    assert body["success"] is True
    assert [client["id"] for client in body["data"]] == [1]
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 10)
    assert "clients" not in body


def test_success_body_unset_message_is_null():
    assert success_body(task_pb2.GetTaskResponse(), "task") == {
        "success": True,
        "data": None,
    }


def test_success_body_whole_response():
    body = success_body(client_pb2.DeleteClientResponse(id=3), "")
    assert body == {"success": True, "data": {"id": 3, "unique_client_id": ""}}


@pytest.fixture(scope="module")
def document():
    return build_openapi(build_route_table())


def test_openapi_has_every_route(document):
    assert document["openapi"].startswith("3.1")
    for route in build_route_table().routes:
        operations = document["paths"][openapi_path(route)]
        assert route.http_method.lower() in operations


def test_openapi_operation_ids_unique(document):
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    ]
    assert len(ids) == len(set(ids))


def test_openapi_descriptions_from_comments(document):
    operation = document["paths"]["/platform/v1/task/{task_id}"]["get"]
    assert operation["description"].startswith("GetTask returns a task")


def test_openapi_parameters(document):
    operation = document["paths"]["/platform/v1/ris/{id}"]["get"]
    (parameter,) = [p for p in operation["parameters"] if p["in"] == "path"]
    assert parameter["name"] == "id"
    assert parameter["schema"] == {"type": "integer", "format": "int64"}
    query = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
    assert query == ["tenant_code"]
    listing = document["paths"]["/platform/v1/tasks"]["get"]
    names = [p["name"] for p in listing["parameters"] if p["in"] == "query"]
    assert names == ["status", "client_id", "limit", "page_token"]


def test_openapi_envelope_and_body(document):
    operation = document["paths"]["/platform/v1/task/execute"]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["properties"]["data"] == {"$ref": "#/components/schemas/ris.v1.Task"}
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ris.v1.ExecuteTaskRequest"}
    error = operation["responses"]["default"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorEnvelope"}


def test_openapi_json_rules_in_schemas(document):
    schemas = document["components"]["schemas"]
    assert schemas["ris.v1.TaskPriority"]["enum"] == [
        "lowest",
        "low",
        "normal",
        "high",
        "critical",
    ]
    request = schemas["ris.v1.ExecuteTaskRequest"]["properties"]
    assert "async" in request
    assert "run_async" not in request
    spec = schemas["ris.v1.TaskSpec"]
    assert list(spec["properties"]) == ["type"]
    assert len(spec["anyOf"]) == 3
    task = schemas["ris.v1.Task"]["properties"]
    assert task["created_at"] == {"type": "string", "format": "date-time"}


def test_openapi_refs_resolve(document):
    schemas = document["components"]["schemas"]
    refs = []

    def collect(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    assert refs
    for ref in refs:
        assert ref.removeprefix("#/components/schemas/") in schemas
