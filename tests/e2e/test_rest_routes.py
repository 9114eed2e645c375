"""Every documented REST route of a real hub returns the documented shape."""

import asyncio
import sys
import time

import httpx
import jwt
import pytest

from tests.e2e.test_end_to_end import rest_login, wait_rest_task

CLIENT_KEYS = {
    "id",
    "name",
    "description",
    "host",
    "status",
    "connection_status",
    "version",
    "unique_client_id",
    "tenant_code",
    "created_date",
    "updated_date",
    "capabilities",
}


@pytest.fixture
async def rest(hub_process):
    async with hub_process.rest() as client:
        client.metrics_url = hub_process.endpoints["metrics"]
        yield client


def rest_metrics_url(rest) -> str:
    return rest.metrics_url


def ok_data(response) -> dict | list:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def error_of(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    return body["error"]["message"]


async def test_auth_routes(rest):
    response = await rest.post(
        "/auth/login",
        json={
            "username": "admin",
            "password": "test-bootstrap-password",
            "tenant_code": "default",
        },
    )
    data = ok_data(response)
    assert set(data) >= {
        "access_token",
        "refresh_token",
        "expires_in",
        "token_type",
        "user",
    }
    assert data["expires_in"] == 86400
    assert data["token_type"] == "Bearer"
    assert data["user"]["role"] == "superadmin"
    assert data["user"]["email"] == "admin"
    assert data["user"]["tenant_code"] == "default"
    refreshed = ok_data(
        await rest.post("/auth/refresh", json={"refresh_token": data["refresh_token"]})
    )
    assert refreshed["access_token"] != data["access_token"]
    reuse = await rest.post(
        "/auth/refresh", json={"refresh_token": data["refresh_token"]}
    )
    error_of(reuse, 401, "UNAUTHENTICATED")
    logout = ok_data(
        await rest.post(
            "/auth/logout", json={"refresh_token": refreshed["refresh_token"]}
        )
    )
    assert "revoked" in logout


async def test_client_routes(rest):
    headers = await rest_login(rest)
    created = ok_data(
        await rest.post(
            "/platform/v1/ris",
            headers=headers,
            json={
                "name": "client-002",
                "description": "Development client",
                "host": "192.168.1.101",
                "tenant_code": "default",
            },
        )
    )
    assert isinstance(created["id"], int)
    assert created["status"] == "active"
    assert created["connection_status"] == "disconnected"
    assert isinstance(created["created_date"], int)
    assert created["host"] == "192.168.1.101"

    listing = await rest.get("/platform/v1/ris", headers=headers)
    body = listing.json()
    assert body["success"] is True
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 10)
    assert CLIENT_KEYS <= set(body["data"][0])

    paged = (
        await rest.get("/platform/v1/ris?page=2&per_page=1", headers=headers)
    ).json()
    assert (paged["page"], paged["per_page"], paged["data"]) == (2, 1, [])

    updated = ok_data(
        await rest.put(
            "/platform/v1/ris",
            headers=headers,
            json={
                "id": created["id"],
                "name": "client-001-updated",
                "description": "Updated production client",
                "status": "active",
            },
        )
    )
    assert updated["name"] == "client-001-updated"
    assert updated["updated_date"] >= created["updated_date"]

    config = ok_data(
        await rest.get(
            f"/platform/v1/risclient/{created['unique_client_id']}/agent-host",
            headers=headers,
        )
    )
    assert config["client_config"]["websocket_path"] == "/ris.v1.AgentService/Connect"
    assert config["client_config"]["server_host"].startswith("https://127.0.0.1:")
    assert config["client_config"]["heartbeat_interval"] == 1
    assert set(config["client_config"]["reconnect_policy"]) >= {
        "max_attempts",
        "backoff_strategy",
    }
    for key in ("client_cert", "client_key", "ca_cert"):
        assert config["certificates"][key].startswith("-----BEGIN ")

    deleted = await rest.request(
        "DELETE", "/platform/v1/ris", headers=headers, json={"id": created["id"]}
    )
    assert ok_data(deleted)["id"] == created["id"]
    missing = await rest.get(f"/platform/v1/ris/{created['id']}", headers=headers)
    error_of(missing, 404, "NOT_FOUND")


async def test_tenant_routes(rest):
    headers = await rest_login(rest)
    created = ok_data(
        await rest.post(
            "/platform/v1/tenants", headers=headers, json={"code": "dev", "name": "Dev"}
        )
    )
    tenants = ok_data(await rest.get("/platform/v1/tenants", headers=headers))
    assert {t["code"] for t in tenants} == {"default", "dev"}
    default = next(t for t in tenants if t["code"] == "default")
    info = ok_data(
        await rest.get(
            f"/internal/v1/remotetenantclient/{default['id']}", headers=headers
        )
    )
    assert info["code"] == "default"
    assert info["status"] == "active"
    config = ok_data(
        await rest.get(
            f"/platform/v1/remotetenantconfigdata/{created['id']}/host-1",
            headers=headers,
        )
    )
    assert config["tenant_info"]["tenant_code"] == "dev"
    assert config["tenant_info"]["tenant_name"] == "Dev"
    assert "database" in config["tenant_info"]["database_config"]


async def test_user_routes(rest):
    headers = await rest_login(rest)
    created = ok_data(
        await rest.post(
            "/platform/v1/users",
            headers=headers,
            json={
                "email": "ops@example.com",
                "password": "a-long-enough-password",
                "role": "operator",
            },
        )
    )
    listed = ok_data(await rest.get("/platform/v1/users", headers=headers))
    updated = ok_data(
        await rest.put(
            f"/platform/v1/users/{created['id']}",
            headers=headers,
            json={"role": "readonly", "disabled": True},
        )
    )
    deleted = ok_data(
        await rest.delete(f"/platform/v1/users/{created['id']}", headers=headers)
    )
    weak = await rest.post(
        "/platform/v1/users",
        headers=headers,
        json={"email": "weak@example.com", "password": "short", "role": "operator"},
    )

    assert created["role"] == "operator"
    assert "password_hash" not in created
    assert created["email"] in [u["email"] for u in listed]
    assert updated["role"] == "readonly"
    assert updated["disabled"] is True
    assert deleted["deleted"] is True
    assert "12 to 1024" in error_of(weak, 400, "INVALID_ARGUMENT")


async def test_task_routes(rest, agent_factory, echo_server):
    client, _ = await agent_factory()
    headers = await rest_login(rest)
    uid = client.unique_client_id
    data = ok_data(
        await rest.post(
            "/platform/v1/task/execute",
            headers=headers,
            json={
                "client_id": uid,
                "task": {"type": "http_request", "method": "GET", "url": echo_server},
                "async": True,
            },
        )
    )
    done = await wait_rest_task(rest, headers, data["task_id"])
    assert done["status"] == "completed"
    assert done["type"] == "http_request"
    assert done["payload"]["url"] == echo_server

    async with httpx.AsyncClient(timeout=10) as plain:
        exported = (await plain.get(rest_metrics_url(rest))).text
    assert 'ris_tasks_finished_total{status="completed"} 1.0' in exported
    assert 'ris_tasks_submitted_total{type="http_request"} 1.0' in exported
    assert "ris_agents_connected 1.0" in exported

    routed = ok_data(
        await rest.post(
            "/platform/v1/task/execute",
            headers=headers,
            json={
                "task": {"type": "http_request", "url": echo_server},
                "async": False,
                "timeout": 20,
            },
        )
    )
    assert routed["client_id"] == uid
    assert routed["status"] == "completed"

    listed = await rest.get(
        f"/platform/v1/tasks?status=completed&client_id={uid}&limit=50", headers=headers
    )
    assert [t["task_id"] for t in ok_data(listed)] == [
        routed["task_id"],
        data["task_id"],
    ]

    slow = ok_data(
        await rest.post(
            "/platform/v1/task/execute",
            headers=headers,
            json={
                "client_id": uid,
                "task": {
                    "type": "command",
                    "command": sys.executable,
                    "args": ["-c", "import time; time.sleep(30)"],
                },
                "async": True,
            },
        )
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = ok_data(
            await rest.get(f"/platform/v1/task/{slow['task_id']}", headers=headers)
        )
        if state["status"] == "running":
            break
        await asyncio.sleep(0.05)
    cancel = ok_data(
        await rest.post(
            f"/platform/v1/task/{slow['task_id']}/cancel", headers=headers, json={}
        )
    )
    assert cancel["status"] in ("running", "cancelled")
    cancelled = await wait_rest_task(rest, headers, slow["task_id"])
    assert cancelled["status"] == "cancelled"

    dead = await rest.get("/platform/v1/tasks/dead-letters", headers=headers)
    assert ok_data(dead) == []
    redrive = await rest.post(
        f"/platform/v1/task/{data['task_id']}/redrive", headers=headers, json={}
    )
    error_of(redrive, 400, "FAILED_PRECONDITION")


async def test_service_routes_map_onto_docker_tasks(rest, agent_factory):
    client, _ = await agent_factory()
    headers = await rest_login(rest)
    uid = client.unique_client_id
    record = ok_data(await rest.get(f"/platform/v1/ris/{client.id}", headers=headers))
    if "docker_service" in record["capabilities"]:
        pytest.skip("this machine runs Docker, so the agent accepts the tasks")
    requests = [
        (
            "POST",
            "/platform/v1/service/deploy",
            {
                "client_id": uid,
                "service": {
                    "name": "web-app",
                    "image": "nginx:latest",
                    "replicas": 3,
                    "ports": [{"container_port": 80, "host_port": 8080}],
                    "environment": {"ENV": "production"},
                    "resources": {"limits": {"memory": "512m", "cpu": "0.5"}},
                },
            },
        ),
        (
            "POST",
            "/platform/v1/service/scale",
            {"client_id": uid, "service_name": "web-app", "replicas": 5},
        ),
        ("GET", f"/platform/v1/service/{uid}/web-app", None),
    ]
    for method, path, payload in requests:
        response = await rest.request(method, path, headers=headers, json=payload)
        # The agent here has no Docker engine, so it does not advertise
        # docker_service and the hub refuses the task up front.
        message = error_of(response, 400, "FAILED_PRECONDITION")
        assert "docker_service" in message
    bad = await rest.post(
        "/platform/v1/service/scale",
        headers=headers,
        json={"client_id": uid, "service_name": "bad name!", "replicas": 5},
    )
    assert "service name" in error_of(bad, 400, "INVALID_ARGUMENT")


async def test_health_ready_and_openapi(rest, hub_process):
    health = await rest.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "healthy"
    assert set(body) >= {
        "status",
        "version",
        "uptime",
        "timestamp",
        "components",
        "system",
    }
    assert body["components"]["database"]["status"] == "connected"
    assert set(body["components"]["clients"]) >= {"total", "connected", "disconnected"}
    assert set(body["components"]["tasks"]) >= {
        "running",
        "queued",
        "completed_today",
        "failed_today",
    }
    ready = await rest.get("/ready")
    assert ready.status_code == 200
    document = (await rest.get("/openapi.json")).json()
    for path in (
        "/auth/login",
        "/auth/refresh",
        "/platform/v1/ris",
        "/platform/v1/risclient/{client_id}/{hostname}",
        "/platform/v1/task/execute",
        "/platform/v1/task/{task_id}",
        "/platform/v1/tasks",
        "/platform/v1/service/deploy",
        "/platform/v1/service/scale",
        "/platform/v1/service/{client_id}/{service_name}",
        "/internal/v1/remotetenantclient/{tenant_uuid}",
        "/platform/v1/remotetenantconfigdata/{tenant_id}/{hostname}",
    ):
        assert path in document["paths"], path
    assert "delete" in document["paths"]["/platform/v1/ris"]


async def test_auth_errors(rest, hub_process):
    missing = await rest.get("/platform/v1/ris")
    error_of(missing, 401, "UNAUTHENTICATED")
    garbage = await rest.get(
        "/platform/v1/ris", headers={"Authorization": "Bearer nope"}
    )
    error_of(garbage, 401, "UNAUTHENTICATED")
    secret = (hub_process.data_dir / "jwt.secret").read_bytes()
    now = int(time.time())
    expired = jwt.encode(
        {
            "sub": "x",
            "role": 4,
            "tenant": "default",
            "typ": "access",
            "iss": "ris-server",
            "aud": "ris-api",
            "iat": now - 7200,
            "nbf": now - 7200,
            "exp": now - 3600,
        },
        secret,
        algorithm="HS256",
    )
    response = await rest.get(
        "/platform/v1/ris", headers={"Authorization": f"Bearer {expired}"}
    )
    assert "expired" in error_of(response, 401, "UNAUTHENTICATED")
    unsigned = jwt.encode({"sub": "x", "typ": "access"}, None, algorithm="none")
    response = await rest.get(
        "/platform/v1/ris", headers={"Authorization": f"Bearer {unsigned}"}
    )
    error_of(response, 401, "UNAUTHENTICATED")

    headers = await rest_login(rest)
    ok_data(
        await rest.post(
            "/platform/v1/tenants",
            headers=headers,
            json={"code": "other", "name": "Other"},
        )
    )
    foreign = ok_data(
        await rest.post(
            "/platform/v1/ris",
            headers=headers,
            json={"name": "foreign", "tenant_code": "other"},
        )
    )
    assert foreign["tenant_code"] == "other"
    response = await rest.get(f"/platform/v1/ris/{foreign['id']}", headers=headers)
    error_of(response, 404, "NOT_FOUND")
    response = await rest.post(
        "/platform/v1/task/execute",
        headers=headers,
        json={
            "client_id": foreign["unique_client_id"],
            "task": {"type": "http_request", "url": "http://127.0.0.1:9/"},
            "async": True,
        },
    )
    error_of(response, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "payload", "fragment"),
    [
        (
            "POST",
            "/platform/v1/task/execute",
            {"client_id": 17, "task": {"type": "command", "command": "true"}},
            "client_id",
        ),
        (
            "POST",
            "/platform/v1/task/execute",
            {"client_id": "00000000-0000-0000-0000-000000000000", "timeout": "abc"},
            "timeout",
        ),
        (
            "POST",
            "/platform/v1/task/execute",
            {
                "client_id": "00000000-0000-0000-0000-000000000000",
                "task": {"type": "teleport"},
            },
            "teleport",
        ),
        (
            "POST",
            "/platform/v1/task/execute",
            {
                "client_id": "00000000-0000-0000-0000-000000000000",
                "task": {"type": "http_request", "url": "http://127.0.0.1/"},
                "timeout": -5,
            },
            "timeout",
        ),
        ("POST", "/platform/v1/ris", {"name": 17}, "name"),
        (
            "POST",
            "/platform/v1/ris",
            {"name": "x", "unknown_field": 1},
            "unknown_field",
        ),
        ("PUT", "/platform/v1/ris", {"id": "seven"}, "id"),
        ("GET", "/platform/v1/tasks?limit=-1", None, "limit"),
        ("GET", "/platform/v1/tasks?limit=99999999999", None, "limit"),
        ("GET", "/platform/v1/tasks?limit=5000", None, "limit"),
        ("GET", "/platform/v1/ris?per_page=0&page=-3", None, "page"),
        ("GET", "/platform/v1/ris/not-a-number", None, "id"),
        ("GET", "/platform/v1/task/not-a-uuid", None, "task_id"),
    ],
)
async def test_bad_input_gets_clear_400(rest, method, path, payload, fragment):
    headers = await rest_login(rest)
    response = await rest.request(method, path, headers=headers, json=payload)
    message = error_of(response, 400, "INVALID_ARGUMENT")
    assert fragment in message
    assert (await rest.get("/health")).status_code == 200


async def test_invalid_json_body_gets_400(rest):
    headers = await rest_login(rest)
    response = await rest.post(
        "/platform/v1/task/execute",
        headers={**headers, "Content-Type": "application/json"},
        content=b"{not json",
    )
    error_of(response, 400, "INVALID_ARGUMENT")
    response = await rest.post(
        "/platform/v1/task/execute", headers=headers, json=[1, 2]
    )
    error_of(response, 400, "INVALID_ARGUMENT")
    assert (await rest.get("/health")).status_code == 200
