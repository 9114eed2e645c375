"""Route table built from the contract's google.api.http annotations."""

from __future__ import annotations

import pytest

from ris_edge.contract import load_package_files
from ris_edge.routes import (
    MethodNotAllowedError,
    PathVariable,
    RouteNotFoundError,
    build_route_table,
    http_rule,
    parse_template,
)

# Routes the product documents; the table must keep serving them.
DOCUMENTED_ROUTES = [
    ("POST", "/auth/login", "ris.v1.AuthService.Login"),
    ("POST", "/auth/refresh", "ris.v1.AuthService.Refresh"),
    ("POST", "/auth/logout", "ris.v1.AuthService.Logout"),
    ("GET", "/platform/v1/ris", "ris.v1.ClientService.ListClients"),
    ("GET", "/platform/v1/ris/{id}", "ris.v1.ClientService.GetClient"),
    ("POST", "/platform/v1/ris", "ris.v1.ClientService.AddClient"),
    ("PUT", "/platform/v1/ris", "ris.v1.ClientService.UpdateClient"),
    ("DELETE", "/platform/v1/ris", "ris.v1.ClientService.DeleteClient"),
    (
        "GET",
        "/platform/v1/risclient/{client_id}/{hostname}",
        "ris.v1.ClientService.GetClientConfig",
    ),
    (
        "POST",
        "/platform/v1/ris/{id}/enrollment-token",
        "ris.v1.ClientService.CreateEnrollmentToken",
    ),
    ("POST", "/platform/v1/task/execute", "ris.v1.TaskService.ExecuteTask"),
    ("GET", "/platform/v1/task/{task_id}", "ris.v1.TaskService.GetTask"),
    ("GET", "/platform/v1/tasks", "ris.v1.TaskService.ListTasks"),
    ("POST", "/platform/v1/task/{task_id}/cancel", "ris.v1.TaskService.CancelTask"),
    ("GET", "/platform/v1/tasks/dead-letters", "ris.v1.TaskService.ListDeadLetters"),
    ("POST", "/platform/v1/task/{task_id}/redrive", "ris.v1.TaskService.RedriveTask"),
    ("POST", "/platform/v1/tenants", "ris.v1.TenantService.CreateTenant"),
    ("GET", "/platform/v1/tenants", "ris.v1.TenantService.ListTenants"),
    (
        "GET",
        "/internal/v1/remotetenantclient/{tenant_uuid}",
        "ris.v1.TenantService.GetTenantInfo",
    ),
    (
        "GET",
        "/platform/v1/remotetenantconfigdata/{tenant_id}/{hostname}",
        "ris.v1.TenantService.GetTenantConfig",
    ),
    (
        "POST",
        "/platform/v1/service/deploy",
        "ris.v1.ServiceManagementService.DeployService",
    ),
    (
        "POST",
        "/platform/v1/service/scale",
        "ris.v1.ServiceManagementService.ScaleService",
    ),
    (
        "GET",
        "/platform/v1/service/{client_id}/{service_name}",
        "ris.v1.ServiceManagementService.GetServiceStatus",
    ),
]


def _annotated_bindings():
    """Yield (HTTP method, template, body, method full name) of every binding
    in the contract, read straight from the descriptors."""
    for file in load_package_files():
        for service in file.services_by_name.values():
            for method in service.methods:
                rule = http_rule(method)
                if rule is None:
                    continue
                for binding in [rule, *rule.additional_bindings]:
                    pattern = binding.WhichOneof("pattern")
                    if pattern == "custom":
                        verb, template = binding.custom.kind, binding.custom.path
                    else:
                        verb, template = pattern.upper(), getattr(binding, pattern)
                    yield verb, template, binding.body, method.full_name


def _table_entries():
    return {
        (r.http_method, r.template, r.body, r.method.full_name)
        for r in build_route_table().routes
    }


def test_table_has_every_annotated_rpc():
    bindings = list(_annotated_bindings())
    entries = _table_entries()
    assert bindings, "the contract has no annotated RPC"
    for binding in bindings:
        assert binding in entries
    assert len(entries) == len(bindings)


@pytest.mark.parametrize(("verb", "template", "full_name"), DOCUMENTED_ROUTES)
def test_documented_route_present(verb, template, full_name):
    routes = {(r.http_method, r.template): r for r in build_route_table().routes}
    route = routes.get((verb, template))
    assert route is not None
    assert route.method.full_name == full_name


def test_unannotated_services_have_no_routes():
    services = {r.method.containing_service.name for r in build_route_table().routes}
    assert "SystemService" not in services
    assert "AgentService" not in services


def test_delete_client_takes_json_body():
    routes = {(r.http_method, r.template): r for r in build_route_table().routes}
    assert routes[("DELETE", "/platform/v1/ris")].body == "*"


def test_grpc_path_and_response_body():
    table = build_route_table()
    match = table.match("GET", "/platform/v1/task/abc")
    assert match.route.grpc_path == "/ris.v1.TaskService/GetTask"
    assert match.route.response_body == "task"
    assert match.path_params == {"task_id": "abc"}


def test_match_two_variables_percent_decoded():
    table = build_route_table()
    match = table.match("GET", "/platform/v1/risclient/c%2F1/host%20a")
    assert match.route.method.name == "GetClientConfig"
    assert match.path_params == {"client_id": "c/1", "hostname": "host a"}


def test_literal_beats_variable():
    table = build_route_table()
    post = table.match("POST", "/platform/v1/task/execute")
    get = table.match("GET", "/platform/v1/task/execute")
    assert post.route.method.name == "ExecuteTask"
    assert get.route.method.name == "GetTask"
    assert get.path_params == {"task_id": "execute"}


def test_dead_letters_not_taken_as_id():
    match = build_route_table().match("GET", "/platform/v1/tasks/dead-letters")
    assert match.route.method.name == "ListDeadLetters"


def test_wrong_method_lists_allowed():
    table = build_route_table()
    with pytest.raises(MethodNotAllowedError) as raised:
        table.match("PATCH", "/platform/v1/ris")
    assert raised.value.allowed == ("DELETE", "GET", "HEAD", "POST", "PUT")


def test_head_matches_get_route():
    table = build_route_table()
    match = table.match("HEAD", "/platform/v1/task/abc")
    assert match.route.http_method == "GET"
    assert match.route.method.name == "GetTask"
    assert match.path_params == {"task_id": "abc"}


def test_head_not_allowed_without_get():
    with pytest.raises(MethodNotAllowedError) as raised:
        build_route_table().match("HEAD", "/auth/login")
    assert raised.value.allowed == ("POST",)


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/platform/v1/ris/",
        "/platform/v1/task/",
        "/platform/v1/task//cancel",
        "",
    ],
)
def test_unknown_path_not_found(path):
    with pytest.raises(RouteNotFoundError):
        build_route_table().match("GET", path)


def test_parse_template_forms():
    assert parse_template("/a/{b}/{c.d=*}/{e=**}") == (
        "a",
        PathVariable("b"),
        PathVariable("c.d"),
        PathVariable("e", matches_rest=True),
    )


@pytest.mark.parametrize(
    "template",
    ["a/b", "/a/{b=**}/c", "/a/*", "/a/{b=x/*}", "/a/b:verb", "/a//b", "/a/x{b}"],
)
def test_parse_template_rejects(template):
    with pytest.raises(ValueError):
        parse_template(template)
