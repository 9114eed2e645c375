"""The gRPC API of an in-process hub: auth, clients, tenants, tasks, bad input."""

import time
import uuid

import grpc
import pytest
from cryptography import x509

from ris.v1 import auth_pb2, client_pb2, task_pb2, tenant_pb2
from ris_server import rbac
from ris_server.models import User
from ris_server.passwords import hash_password
from ris_server.tokens import Principal, TokenService
from tests.support import ADMIN_PASSWORD

Code = grpc.StatusCode


async def rpc_error(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


def http_spec(url="http://127.0.0.1:9/x"):
    return task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_HTTP_REQUEST,
        http_request=task_pb2.HttpRequestTask(method="GET", url=url),
    )


async def add_client(api, name="client-1", **fields):
    response = await api.clients.AddClient(
        client_pb2.AddClientRequest(name=name, host="localhost", **fields),
        metadata=api.metadata,
    )
    return response.client


async def add_user(hub_server, tenant_code, email, role):
    await hub_server.hub.store.create_user(
        User(str(uuid.uuid4()), tenant_code, email, hash_password("pw-" + email), role)
    )


async def test_login_returns_documented_token_pair(api):
    response = await api.login()
    assert response.token_type == "Bearer"
    assert response.expires_in == 86400
    assert response.user.role == rbac.SUPERADMIN
    assert response.user.tenant_code == "default"
    assert response.access_token.count(".") == 2
    assert response.refresh_token != response.access_token


@pytest.mark.parametrize(
    ("username", "password", "tenant"),
    [
        ("admin", "wrong-password", ""),
        ("nobody", ADMIN_PASSWORD, ""),
        ("admin", ADMIN_PASSWORD, "no-such-tenant"),
    ],
)
async def test_login_failure_does_not_reveal_which_part(
    api, username, password, tenant
):
    error = await rpc_error(api.login(username, password, tenant))
    assert error.code() == Code.UNAUTHENTICATED
    assert error.details() == "invalid username, password or tenant"


async def test_login_missing_password_is_invalid(api):
    error = await rpc_error(api.auth.Login(auth_pb2.LoginRequest(username="admin")))
    assert error.code() == Code.INVALID_ARGUMENT
    assert "password" in error.details()


async def test_refresh_token_works_once_and_reuse_revokes_family(api):
    first = await api.login()
    second = await api.auth.Refresh(
        auth_pb2.RefreshRequest(refresh_token=first.refresh_token)
    )
    assert second.access_token
    reuse = await rpc_error(
        api.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=first.refresh_token))
    )
    assert reuse.code() == Code.UNAUTHENTICATED
    family_revoked = await rpc_error(
        api.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=second.refresh_token))
    )
    assert family_revoked.code() == Code.UNAUTHENTICATED


async def test_logout_revokes_refresh_token(api):
    pair = await api.login()
    logout = await api.auth.Logout(
        auth_pb2.LogoutRequest(refresh_token=pair.refresh_token)
    )
    assert logout.revoked
    error = await rpc_error(
        api.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=pair.refresh_token))
    )
    assert error.code() == Code.UNAUTHENTICATED


async def test_request_without_token_is_unauthenticated(api):
    error = await rpc_error(api.clients.ListClients(client_pb2.ListClientsRequest()))
    assert error.code() == Code.UNAUTHENTICATED


async def test_expired_token_is_unauthenticated(api, hub_server):
    config = hub_server.config.authentication.jwt
    secret = (hub_server.config.data_dir / "jwt.secret").read_bytes()
    tokens = TokenService(
        secret,
        issuer=config.issuer,
        audience=config.audience,
        access_ttl=60,
        refresh_ttl=60,
        leeway=0,
    )
    principal = Principal("u", "admin", rbac.SUPERADMIN, "default")
    expired = tokens.issue_access(principal, now=time.time() - 3600)
    error = await rpc_error(
        api.clients.ListClients(
            client_pb2.ListClientsRequest(),
            metadata=(("authorization", f"Bearer {expired}"),),
        )
    )
    assert error.code() == Code.UNAUTHENTICATED
    assert "expired" in error.details()


async def test_token_signed_with_other_secret_is_rejected(api):
    forged = TokenService(
        b"x" * 32,
        issuer="ris-server",
        audience="ris-api",
        access_ttl=60,
        refresh_ttl=60,
        leeway=0,
    ).issue_access(Principal("u", "admin", rbac.SUPERADMIN, "default"))
    error = await rpc_error(
        api.clients.ListClients(
            client_pb2.ListClientsRequest(),
            metadata=(("authorization", f"Bearer {forged}"),),
        )
    )
    assert error.code() == Code.UNAUTHENTICATED


async def test_client_crud_and_paging(api):
    created = [await add_client(api, f"client-{i}") for i in range(3)]
    assert [c.id for c in created] == sorted(c.id for c in created)
    assert all(uuid.UUID(c.unique_client_id) for c in created)
    assert created[0].created_date > 1_600_000_000_000

    page = await api.clients.ListClients(
        client_pb2.ListClientsRequest(page=2, per_page=2), metadata=api.metadata
    )
    assert page.total == 3
    assert page.page == 2
    assert page.per_page == 2
    assert [c.name for c in page.clients] == ["client-2"]

    updated = await api.clients.UpdateClient(
        client_pb2.UpdateClientRequest(
            id=created[0].id,
            description="new",
            status=client_pb2.CLIENT_STATUS_INACTIVE,
        ),
        metadata=api.metadata,
    )
    assert updated.client.description == "new"
    assert updated.client.name == "client-0"
    assert updated.client.status == client_pb2.CLIENT_STATUS_INACTIVE

    deleted = await api.clients.DeleteClient(
        client_pb2.DeleteClientRequest(id=created[0].id), metadata=api.metadata
    )
    assert deleted.unique_client_id == created[0].unique_client_id
    error = await rpc_error(
        api.clients.GetClient(
            client_pb2.GetClientRequest(id=created[0].id), metadata=api.metadata
        )
    )
    assert error.code() == Code.NOT_FOUND


async def test_duplicate_client_name_already_exists(api):
    await add_client(api, "dup")
    error = await rpc_error(add_client(api, "dup"))
    assert error.code() == Code.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("request_fields", "fragment"),
    [
        ({"name": ""}, "name"),
        ({"name": "bad name with spaces"}, "name"),
        ({"name": "ok", "host": "not a host!"}, "host"),
        ({"name": "ok", "description": "x" * 2001}, "description"),
    ],
)
async def test_add_client_bad_input(api, request_fields, fragment):
    error = await rpc_error(
        api.clients.AddClient(
            client_pb2.AddClientRequest(**request_fields), metadata=api.metadata
        )
    )
    assert error.code() == Code.INVALID_ARGUMENT
    assert fragment in error.details()


@pytest.mark.parametrize(
    ("page", "per_page"), [(-1, 10), (1, -5), (1, 1001), (1, 10**9)]
)
async def test_list_clients_rejects_bad_paging(api, page, per_page):
    error = await rpc_error(
        api.clients.ListClients(
            client_pb2.ListClientsRequest(page=page, per_page=per_page),
            metadata=api.metadata,
        )
    )
    assert error.code() == Code.INVALID_ARGUMENT


async def test_other_tenant_client_is_not_found(api, hub_server):
    await api.tenants.CreateTenant(
        tenant_pb2.CreateTenantRequest(code="other", name="Other"),
        metadata=api.metadata,
    )
    mine = await add_client(api, "mine")
    await add_user(hub_server, "other", "ops@other", rbac.ADMIN)
    await api.login("ops@other", "pw-ops@other", "other")

    error = await rpc_error(
        api.clients.GetClient(
            client_pb2.GetClientRequest(id=mine.id), metadata=api.metadata
        )
    )
    assert error.code() == Code.NOT_FOUND
    listing = await api.clients.ListClients(
        client_pb2.ListClientsRequest(), metadata=api.metadata
    )
    assert listing.total == 0
    submit = await rpc_error(
        api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=mine.unique_client_id, task=http_spec(), run_async=True
            ),
            metadata=api.metadata,
        )
    )
    assert submit.code() == Code.NOT_FOUND
    cross = await rpc_error(
        api.clients.ListClients(
            client_pb2.ListClientsRequest(tenant_code="default"), metadata=api.metadata
        )
    )
    assert cross.code() == Code.PERMISSION_DENIED


async def test_readonly_role_cannot_add_client(api, hub_server):
    await add_user(hub_server, "default", "viewer", rbac.READONLY)
    await api.login("viewer", "pw-viewer")
    error = await rpc_error(add_client(api, "x"))
    assert error.code() == Code.PERMISSION_DENIED
    listing = await api.clients.ListClients(
        client_pb2.ListClientsRequest(), metadata=api.metadata
    )
    assert listing.total == 0


async def test_tenants_create_list_and_info(api):
    created = await api.tenants.CreateTenant(
        tenant_pb2.CreateTenantRequest(code="dev", name="Development"),
        metadata=api.metadata,
    )
    assert created.tenant.status == tenant_pb2.TENANT_STATUS_ACTIVE
    listing = await api.tenants.ListTenants(
        tenant_pb2.ListTenantsRequest(), metadata=api.metadata
    )
    assert [t.code for t in listing.tenants] == ["default", "dev"]
    info = await api.tenants.GetTenantInfo(
        tenant_pb2.GetTenantInfoRequest(tenant_uuid=created.tenant.id),
        metadata=api.metadata,
    )
    assert info.tenant.name == "Development"
    config = await api.tenants.GetTenantConfig(
        tenant_pb2.GetTenantConfigRequest(tenant_id="dev", hostname="host-1"),
        metadata=api.metadata,
    )
    assert config.tenant_info.tenant_code == "dev"
    assert config.client_config.websocket_path == "/ris.v1.AgentService/Connect"
    duplicate = await rpc_error(
        api.tenants.CreateTenant(
            tenant_pb2.CreateTenantRequest(code="dev", name="Again"),
            metadata=api.metadata,
        )
    )
    assert duplicate.code() == Code.ALREADY_EXISTS
    bad = await rpc_error(
        api.tenants.CreateTenant(
            tenant_pb2.CreateTenantRequest(code="Bad Code", name="x"),
            metadata=api.metadata,
        )
    )
    assert bad.code() == Code.INVALID_ARGUMENT


async def test_client_config_issues_certificate_for_client(api, hub_server):
    client = await add_client(api)
    config = await api.clients.GetClientConfig(
        client_pb2.GetClientConfigRequest(
            client_id=client.unique_client_id, hostname="agent-host"
        ),
        metadata=api.metadata,
    )
    cert = x509.load_pem_x509_certificate(config.certificates.client_cert.encode())
    ca = x509.load_pem_x509_certificate(config.certificates.ca_cert.encode())
    cert.verify_directly_issued_by(ca)
    uris = cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.UniformResourceIdentifier)
    assert uris == [f"urn:ris:tenant:default:client:{client.unique_client_id}"]
    assert config.certificates.client_key.startswith("-----BEGIN PRIVATE KEY-----")
    port = hub_server.hub.endpoints.agent_port
    assert config.client_config.server_host == f"https://127.0.0.1:{port}"
    assert config.client_config.heartbeat_interval == 1


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (task_pb2.TaskSpec(), "task.type"),
        (task_pb2.TaskSpec(type=99, command=task_pb2.CommandTask(command="x")), "type"),
        (
            task_pb2.TaskSpec(
                type=task_pb2.TASK_TYPE_COMMAND,
                http_request=task_pb2.HttpRequestTask(url="http://127.0.0.1/"),
            ),
            "does not match",
        ),
        (
            task_pb2.TaskSpec(
                type=task_pb2.TASK_TYPE_HTTP_REQUEST,
                http_request=task_pb2.HttpRequestTask(method="GET"),
            ),
            "task.url",
        ),
        (
            task_pb2.TaskSpec(
                type=task_pb2.TASK_TYPE_HTTP_REQUEST,
                http_request=task_pb2.HttpRequestTask(method="BREW", url="http://a/"),
            ),
            "task.method",
        ),
        (
            task_pb2.TaskSpec(
                type=task_pb2.TASK_TYPE_HTTP_REQUEST,
                http_request=task_pb2.HttpRequestTask(url="file:///etc/passwd"),
            ),
            "http or https",
        ),
        (
            task_pb2.TaskSpec(
                type=task_pb2.TASK_TYPE_COMMAND, command=task_pb2.CommandTask()
            ),
            "task.command",
        ),
    ],
)
async def test_execute_rejects_bad_task(api, spec, fragment):
    client = await add_client(api)
    error = await rpc_error(
        api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id, task=spec, run_async=True
            ),
            metadata=api.metadata,
        )
    )
    assert error.code() == Code.INVALID_ARGUMENT
    assert fragment in error.details()


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"timeout": -1}, "timeout"),
        ({"timeout": 10**7}, "timeout"),
        ({"priority": 9}, "priority"),
        ({"max_attempts": 50}, "max_attempts"),
        ({"client_id": "not-a-uuid"}, "client_id"),
    ],
)
async def test_execute_rejects_bad_fields(api, fields, fragment):
    client = await add_client(api)
    request = {"client_id": client.unique_client_id, "task": http_spec(), **fields}
    error = await rpc_error(
        api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(run_async=True, **request),
            metadata=api.metadata,
        )
    )
    assert error.code() == Code.INVALID_ARGUMENT
    assert fragment in error.details()


async def test_execute_unknown_client_not_found(api):
    error = await rpc_error(
        api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=str(uuid.uuid4()), task=http_spec(), run_async=True
            ),
            metadata=api.metadata,
        )
    )
    assert error.code() == Code.NOT_FOUND


async def test_async_task_is_persisted_queued(api):
    client = await add_client(api)
    submitted = await api.tasks.ExecuteTask(
        task_pb2.ExecuteTaskRequest(
            client_id=client.unique_client_id,
            task=http_spec(),
            run_async=True,
            priority=task_pb2.TASK_PRIORITY_HIGH,
        ),
        metadata=api.metadata,
    )
    assert submitted.task.status == task_pb2.TASK_STATUS_QUEUED
    assert submitted.task.priority == task_pb2.TASK_PRIORITY_HIGH
    assert submitted.task.timeout == 30
    fetched = await api.tasks.GetTask(
        task_pb2.GetTaskRequest(task_id=submitted.task.task_id), metadata=api.metadata
    )
    assert fetched.task.payload.http_request.url == "http://127.0.0.1:9/x"
    listing = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(status=task_pb2.TASK_STATUS_QUEUED, limit=10),
        metadata=api.metadata,
    )
    assert [t.task_id for t in listing.tasks] == [submitted.task.task_id]


async def test_task_credentials_are_redacted_on_read(api):
    client = await add_client(api)
    spec = http_spec()
    spec.http_request.auth.type = task_pb2.HTTP_AUTH_TYPE_BEARER
    spec.http_request.auth.bearer_token = "very-secret-token"
    spec.http_request.headers["Authorization"] = "Bearer other-secret"
    submitted = await api.tasks.ExecuteTask(
        task_pb2.ExecuteTaskRequest(
            client_id=client.unique_client_id, task=spec, run_async=True
        ),
        metadata=api.metadata,
    )
    text = str(submitted.task)
    assert "very-secret-token" not in text
    assert "other-secret" not in text
    assert "[REDACTED]" in text


async def test_list_tasks_paging_and_limits(api):
    client = await add_client(api)
    ids = []
    for _ in range(5):
        response = await api.tasks.ExecuteTask(
            task_pb2.ExecuteTaskRequest(
                client_id=client.unique_client_id, task=http_spec(), run_async=True
            ),
            metadata=api.metadata,
        )
        ids.append(response.task.task_id)
    first = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(limit=3), metadata=api.metadata
    )
    second = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(limit=3, page_token=first.next_page_token),
        metadata=api.metadata,
    )
    seen = [t.task_id for t in first.tasks] + [t.task_id for t in second.tasks]
    assert seen == list(reversed(ids))
    assert second.next_page_token == ""
    for limit in (-1, 1001, 2**31 - 1):
        error = await rpc_error(
            api.tasks.ListTasks(
                task_pb2.ListTasksRequest(limit=limit), metadata=api.metadata
            )
        )
        assert error.code() == Code.INVALID_ARGUMENT
    bad_token = await rpc_error(
        api.tasks.ListTasks(
            task_pb2.ListTasksRequest(page_token="%%%"), metadata=api.metadata
        )
    )
    assert bad_token.code() == Code.INVALID_ARGUMENT


async def test_cancel_queued_task(api):
    client = await add_client(api)
    submitted = await api.tasks.ExecuteTask(
        task_pb2.ExecuteTaskRequest(
            client_id=client.unique_client_id, task=http_spec(), run_async=True
        ),
        metadata=api.metadata,
    )
    cancelled = await api.tasks.CancelTask(
        task_pb2.CancelTaskRequest(task_id=submitted.task.task_id),
        metadata=api.metadata,
    )
    assert cancelled.task.status == task_pb2.TASK_STATUS_CANCELLED
    again = await rpc_error(
        api.tasks.CancelTask(
            task_pb2.CancelTaskRequest(task_id=submitted.task.task_id),
            metadata=api.metadata,
        )
    )
    assert again.code() == Code.FAILED_PRECONDITION


async def test_full_queue_rejects_submit(api, hub_server):
    hub_server.config.task_orchestration.queue.size = 2
    client = await add_client(api)
    request = task_pb2.ExecuteTaskRequest(
        client_id=client.unique_client_id, task=http_spec(), run_async=True
    )
    for _ in range(2):
        await api.tasks.ExecuteTask(request, metadata=api.metadata)
    error = await rpc_error(api.tasks.ExecuteTask(request, metadata=api.metadata))
    assert error.code() == Code.RESOURCE_EXHAUSTED
    assert "queue is full" in error.details()
    trailers = dict(error.trailing_metadata() or ())
    assert trailers.get("retry-after") == "5"
    listing = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(), metadata=api.metadata
    )
    assert len(listing.tasks) == 2


async def test_health_report_counts(api):
    from ris.v1 import system_pb2

    await add_client(api)
    health = await api.system.GetHealth(system_pb2.GetHealthRequest())
    assert health.status == "healthy"
    assert health.components.database.status == "connected"
    assert health.components.clients.total == 1
    assert health.components.clients.disconnected == 1
