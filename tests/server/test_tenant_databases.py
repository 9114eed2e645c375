"""A database per tenant: real hubs with multi_tenant.tenant_isolation = database."""

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Protocol

import grpc
import pytest

from ris.v1 import client_pb2, task_pb2, tenant_pb2
from ris_server import rbac
from ris_server.app import HubServer
from ris_server.bootstrap import PASSWORD_ENV
from ris_server.config import ConfigError
from ris_server.keyring import DataKeyRecord, Keyring, is_envelope
from ris_server.pki import write_private
from ris_server.secrets_store import pending_master_key_path
from ris_server.store import tenant_routes
from ris_server.store.base import Repository
from ris_server.store.tenant_databases import TenantDatabases
from ris_server.store.tenant_routes import ROUTES, Route, protocol_methods
from tests.server.conftest import connect_api
from tests.server.test_agent_stream import RawAgent, enroll, wait_status
from tests.server.test_api import add_client, add_user, http_spec, rpc_error
from tests.server.test_encryption import (
    AUTH_PASSWORD,
    ENV_SECRET,
    SECRETS,
    assignments,
    open_agent,
    run_keys,
    secret_command_spec,
    secret_http_spec,
)
from tests.server.test_orchestration import FAST, next_of
from tests.support import ADMIN_PASSWORD, Api, local_hub_config

DATABASE = {"tenant_isolation": "database"}
Code = grpc.StatusCode


def rows(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def data_dir(server: HubServer) -> Path:
    return server.config.data_dir


async def create_tenant(api: Api, code: str) -> tenant_pb2.Tenant:
    response = await api.tenants.CreateTenant(
        tenant_pb2.CreateTenantRequest(code=code, name=code.title()),
        metadata=api.metadata,
    )
    return response.tenant


async def tenant_admin(server: HubServer, channel, code: str) -> Api:
    """Create an admin of tenant `code` and return an API logged in as them."""
    email = f"ops@{code}"
    await add_user(server, code, email, rbac.ADMIN)
    api = Api(channel)
    await api.login(email, f"pw-{email}", code)
    return api


async def submit(api: Api, client, spec=None, timeout=30) -> task_pb2.Task:
    response = await api.tasks.ExecuteTask(
        task_pb2.ExecuteTaskRequest(
            client_id=client.unique_client_id,
            task=spec or http_spec(),
            run_async=True,
            timeout=timeout,
        ),
        metadata=api.metadata,
    )
    return response.task


@pytest.fixture
async def database_hub(hub_factory):
    server = await hub_factory(multi_tenant=DATABASE, **FAST)
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login()
        yield server, api, channel


# Routing table.


def test_routes_cover_repository_protocol():
    assert protocol_methods() == set(ROUTES)
    for name in ROUTES:
        assert callable(getattr(TenantDatabases, name, None)), name


def test_unrouted_protocol_method_is_rejected():
    class Extended(Repository, Protocol):
        async def purge_everything(self) -> None: ...

    with pytest.raises(TypeError, match="purge_everything"):
        tenant_routes.check_routes(Extended)
    tenant_routes.check_routes(Repository)


async def test_open_rejects_incomplete_routes(tmp_path, monkeypatch):
    monkeypatch.delitem(tenant_routes.ROUTES, "claim_tasks")
    with pytest.raises(TypeError, match="claim_tasks"):
        await TenantDatabases.open(tmp_path / "ris.db", tmp_path / "tenants")
    assert not (tmp_path / "ris.db").exists()


def test_client_and_task_methods_never_use_control():
    for name in ("create_client", "list_clients", "insert_task", "list_tasks"):
        assert ROUTES[name] is Route.TENANT, name
    for name in ("claim_tasks", "running_tasks", "record_heartbeat"):
        assert ROUTES[name] is Route.CLIENT, name
    for name in ("finish_task", "requeue_task", "set_progress"):
        assert ROUTES[name] is Route.TASK, name


# Placement and isolation.


async def test_tenant_rows_live_in_own_files(database_hub):
    server, api, channel = database_hub
    alpha = await create_tenant(api, "alpha")
    await create_tenant(api, "beta")
    assert alpha.database_info.database == "tenants/alpha.db"
    alpha_api = await tenant_admin(server, channel, "alpha")
    beta_api = await tenant_admin(server, channel, "beta")
    alpha_client = await add_client(alpha_api, "shared-name")
    beta_client = await add_client(beta_api, "shared-name")
    alpha_task = await submit(alpha_api, alpha_client)
    beta_task = await submit(beta_api, beta_client)

    root = data_dir(server)
    files = {
        "alpha": root / "tenants" / "alpha.db",
        "beta": root / "tenants" / "beta.db",
    }
    expected = {
        "alpha": (alpha_client, alpha_task),
        "beta": (beta_client, beta_task),
    }
    for code, path in files.items():
        assert path.stat().st_mode & 0o777 == 0o600, path
        client, task = expected[code]
        uids = rows(path, "SELECT unique_client_id, tenant_code FROM clients")
        assert uids == [(client.unique_client_id, code)]
        tasks = rows(path, "SELECT task_id, tenant_code FROM tasks")
        assert tasks == [(task.task_id, code)]
        assert rows(path, "SELECT COUNT(*) FROM tenants") == [(0,)]
        assert rows(path, "SELECT COUNT(*) FROM users") == [(0,)]
    control = root / "ris.db"
    assert rows(control, "SELECT COUNT(*) FROM clients") == [(0,)]
    assert rows(control, "SELECT COUNT(*) FROM tasks") == [(0,)]
    codes = {row[0] for row in rows(control, "SELECT code FROM tenants")}
    assert codes == {"default", "alpha", "beta"}
    assert len(rows(control, "SELECT id FROM users")) == 3

    listing = await alpha_api.clients.ListClients(
        client_pb2.ListClientsRequest(), metadata=alpha_api.metadata
    )
    assert [c.unique_client_id for c in listing.clients] == [
        alpha_client.unique_client_id
    ]
    tasks = await alpha_api.tasks.ListTasks(
        task_pb2.ListTasksRequest(), metadata=alpha_api.metadata
    )
    assert [t.task_id for t in tasks.tasks] == [alpha_task.task_id]
    error = await rpc_error(
        alpha_api.tasks.GetTask(
            task_pb2.GetTaskRequest(task_id=beta_task.task_id),
            metadata=alpha_api.metadata,
        )
    )
    assert error.code() == Code.NOT_FOUND
    # Both tenants' first client has id 1, each in its own file.
    assert alpha_client.id == beta_client.id == 1
    mine = await alpha_api.clients.GetClient(
        client_pb2.GetClientRequest(id=alpha_client.id), metadata=alpha_api.metadata
    )
    assert mine.client.unique_client_id == alpha_client.unique_client_id


async def test_queue_size_is_hub_wide(hub_factory):
    server = await hub_factory(
        multi_tenant=DATABASE, task_orchestration={"queue": {"size": 2}}
    )
    async with await connect_api(server) as channel:
        api = Api(channel)
        await api.login()
        await create_tenant(api, "alpha")
        alpha_api = await tenant_admin(server, channel, "alpha")
        await submit(api, await add_client(api, "d1"))
        await submit(alpha_api, await add_client(alpha_api, "a1"))
        error = await rpc_error(submit(alpha_api, await add_client(alpha_api, "a2")))
        assert error.code() == Code.RESOURCE_EXHAUSTED
        assert await server.hub.store.count_active_tasks() == 2


# Agents, the watchdog and restarts.


async def connect(server, api, name, slots=2) -> tuple:
    client = await add_client(api, name)
    key, cert, _ = await enroll(api, client)
    agent = RawAgent(server.hub, key, cert)
    await agent.register(slots=slots)
    agent.start_heartbeats()
    return client, agent


async def test_agent_runs_task_of_second_tenant(database_hub):
    server, api, channel = database_hub
    await create_tenant(api, "beta")
    beta_api = await tenant_admin(server, channel, "beta")
    client, agent = await connect(server, beta_api, "worker")
    task = await submit(beta_api, client)

    assignment, _ = await next_of(agent, "assignment")
    assert assignment.task_id == task.task_id
    await agent.send_result(
        task.task_id, assignment.attempt, task_pb2.TASK_STATUS_COMPLETED
    )
    done = await wait_status(beta_api, task.task_id, task_pb2.TASK_STATUS_COMPLETED)
    assert done.status == task_pb2.TASK_STATUS_COMPLETED
    assert done.result.http_response.body == "OK"
    path = data_dir(server) / "tenants" / "beta.db"
    status = rows(path, "SELECT status FROM tasks WHERE task_id = ?", (task.task_id,))
    assert status == [(task_pb2.TASK_STATUS_COMPLETED,)]
    await agent.close()


async def test_watchdog_requeues_and_expires_in_tenant_files(database_hub):
    server, api, channel = database_hub
    await create_tenant(api, "beta")
    beta_api = await tenant_admin(server, channel, "beta")
    client, agent = await connect(server, beta_api, "worker")
    leased = await submit(beta_api, client, timeout=1)
    idle = await add_client(beta_api, "never-connects")
    waiting = await submit(beta_api, idle)

    first, _ = await next_of(agent, "assignment")
    assert first.task_id == leased.task_id
    assert first.attempt == 1
    # No result: the lease (1 s plus 0.5 s grace) runs out and the task comes back.
    second, _ = await next_of(agent, "assignment", timeout=10)
    assert second.task_id == leased.task_id
    assert second.attempt == 2

    final = await wait_status(
        beta_api, waiting.task_id, task_pb2.TASK_STATUS_TIMEOUT, timeout=15
    )
    assert final.status == task_pb2.TASK_STATUS_TIMEOUT
    assert final.dead_lettered
    await agent.close()


@contextlib.asynccontextmanager
async def running_hub(config):
    server = HubServer(config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=0.5)


def hub_config(root: Path, **sections):
    """Load a hub config whose data directory outlives the hubs started on it."""
    return local_hub_config(root, **sections)


async def test_restart_keeps_clients_and_tasks(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    config = hub_config(tmp_path / "hub", multi_tenant=DATABASE)
    async with running_hub(config) as server:
        async with await connect_api(server) as channel:
            api = Api(channel)
            await api.login()
            await create_tenant(api, "beta")
            beta_api = await tenant_admin(server, channel, "beta")
            client = await add_client(beta_api, "worker")
            key, cert, _ = await enroll(beta_api, client)
            task = await submit(beta_api, client)

    async with running_hub(config) as server:
        async with await connect_api(server) as channel:
            beta_api = Api(channel)
            await beta_api.login("ops@beta", "pw-ops@beta", "beta")
            listing = await beta_api.clients.ListClients(
                client_pb2.ListClientsRequest(), metadata=beta_api.metadata
            )
            assert [c.unique_client_id for c in listing.clients] == [
                client.unique_client_id
            ]
            # The agent is found through the client map rebuilt at start, and
            # its result through a task lookup over the tenant databases.
            agent = RawAgent(server.hub, key, cert)
            await agent.register()
            agent.start_heartbeats()
            assignment, _ = await next_of(agent, "assignment")
            assert assignment.task_id == task.task_id
            await agent.send_result(
                task.task_id, assignment.attempt, task_pb2.TASK_STATUS_COMPLETED
            )
            done = await wait_status(
                beta_api, task.task_id, task_pb2.TASK_STATUS_COMPLETED
            )
            assert done.status == task_pb2.TASK_STATUS_COMPLETED
            await agent.close()


async def test_switching_modes_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    shared = hub_config(
        tmp_path / "shared", multi_tenant={"tenant_isolation": "shared"}
    )
    async with running_hub(shared) as server:
        async with await connect_api(server) as channel:
            api = Api(channel)
            await api.login()
            await add_client(api, "shared-client")
    shared.multi_tenant.tenant_isolation = "database"
    with pytest.raises(ConfigError, match="1 clients and 0 tasks"):
        await HubServer(shared).start()

    separate = hub_config(tmp_path / "separate", multi_tenant=DATABASE)
    async with running_hub(separate):
        pass
    separate.multi_tenant.tenant_isolation = "shared"
    with pytest.raises(ConfigError, match="default.db"):
        await HubServer(separate).start()


# Encryption at rest.


def raw_files(root: Path) -> dict[str, bytes]:
    """Return every database file, write-ahead log and shared-memory file."""
    files = {}
    for path in [*root.glob("ris.db*"), *(root / "tenants").glob("*.db*")]:
        files[str(path.relative_to(root))] = path.read_bytes()
    return files


async def test_encrypted_payloads_and_ris_keys(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    config = hub_config(tmp_path / "hub", multi_tenant=DATABASE)
    root = config.data_dir
    beta_db = root / "tenants" / "beta.db"
    async with running_hub(config) as server:
        async with await connect_api(server) as channel:
            api = Api(channel)
            await api.login()
            await create_tenant(api, "beta")
            beta_api = await tenant_admin(server, channel, "beta")
            client = await add_client(beta_api, "worker")
            key, cert, _ = await enroll(beta_api, client)
            http = await submit(beta_api, client, secret_http_spec())
            command = await submit(beta_api, client, secret_command_spec())

        await server.hub.store.checkpoint()
        files = raw_files(root)
        assert "tenants/beta.db" in files
        for name, content in files.items():
            for secret in SECRETS:
                assert secret.encode() not in content, f"{secret} found in {name}"
        spec = rows(
            beta_db, "SELECT spec FROM tasks WHERE task_id = ?", (http.task_id,)
        )
        assert is_envelope(spec[0][0])
        # The payload key is stored in the tenant's file, the settings keys
        # in the control file.
        tenant_keys = rows(beta_db, "SELECT key_id, tenant_code FROM data_keys")
        assert [code for _, code in tenant_keys] == ["beta"]
        control_keys = rows(root / "ris.db", "SELECT tenant_code FROM data_keys")
        assert sorted(code for (code,) in control_keys) == ["beta", "default"]

        listed = run_keys(config, "list")
        assert listed.returncode == 0, listed.stderr
        assert tenant_keys[0][0] in listed.stdout
        reencrypted = run_keys(config, "reencrypt", "--new-keys")
        assert reencrypted.returncode == 0, reencrypted.stderr
        assert "re-encrypted 2 task rows and 2 tenant rows" in reencrypted.stdout
        newest = rows(
            beta_db, "SELECT key_id FROM data_keys ORDER BY created_at DESC LIMIT 1"
        )[0][0]
        assert newest != tenant_keys[0][0]
        spec_after = rows(
            beta_db, "SELECT spec FROM tasks WHERE task_id = ?", (http.task_id,)
        )[0][0]
        assert bytes.fromhex(newest) in spec_after

        # The running hub reads the key another process added to the tenant file.
        agent = await open_agent(server, key, cert)
        specs = await assignments(agent, 2)
        environment = specs[command.task_id].command.environment
        assert environment["DB_PASSWORD"] == ENV_SECRET
        await agent.close()

    wrapped_before = rows(beta_db, "SELECT key_id, wrapped FROM data_keys")
    control_before = rows(root / "ris.db", "SELECT key_id, wrapped FROM data_keys")
    rotated = run_keys(config, "rotate-master")
    assert rotated.returncode == 0, rotated.stderr
    total = len(wrapped_before) + len(control_before)
    assert f"rewrapped {total} data keys" in rotated.stdout
    wrapped_after = rows(beta_db, "SELECT key_id, wrapped FROM data_keys")
    control_after = rows(root / "ris.db", "SELECT key_id, wrapped FROM data_keys")
    assert [k for k, _ in wrapped_after] == [k for k, _ in wrapped_before]
    assert set(wrapped_after).isdisjoint(wrapped_before)
    assert set(control_after).isdisjoint(control_before)

    async with running_hub(config) as server:
        agent = await open_agent(server, key, cert)
        specs = await assignments(agent, 2)
        environment = specs[command.task_id].command.environment
        assert environment["DB_PASSWORD"] == ENV_SECRET
        assert specs[http.task_id].http_request.auth.password == AUTH_PASSWORD
        await agent.close()


async def test_rotation_stopped_between_databases_recovers(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    config = hub_config(tmp_path / "hub", multi_tenant=DATABASE)
    root = config.data_dir
    async with running_hub(config) as server:
        async with await connect_api(server) as channel:
            api = Api(channel)
            await api.login()
            await create_tenant(api, "beta")
            beta_api = await tenant_admin(server, channel, "beta")
            client = await add_client(beta_api, "worker")
            task = await submit(beta_api, client, secret_command_spec())

    # A rotation that committed the control database and stopped before the
    # tenant database: the new key is pending, the files disagree.
    master_path = root / "master.key"
    old_master = master_path.read_bytes()
    new_master = os.urandom(32)
    control = root / "ris.db"
    beta_db = root / "tenants" / "beta.db"
    records = [
        DataKeyRecord(*row)
        for path in (control, beta_db)
        for row in rows(
            path, "SELECT key_id, tenant_code, wrapped, created_at FROM data_keys"
        )
    ]
    rewrapped = Keyring(old_master, records).rewrap(new_master)
    write_private(pending_master_key_path(master_path), new_master)
    db = sqlite3.connect(control)
    try:
        control_ids = {row[0] for row in db.execute("SELECT key_id FROM data_keys")}
        for record in rewrapped:
            if record.key_id in control_ids:
                db.execute(
                    "UPDATE data_keys SET wrapped = ? WHERE key_id = ?",
                    (record.wrapped, record.key_id),
                )
        db.commit()
    finally:
        db.close()

    async with running_hub(config) as server:
        assert master_path.read_bytes() == new_master
        assert not pending_master_key_path(master_path).exists()
        tenant_rows = rows(
            beta_db, "SELECT key_id, tenant_code, wrapped, created_at FROM data_keys"
        )
        Keyring(new_master, [DataKeyRecord(*row) for row in tenant_rows])
        async with await connect_api(server) as channel:
            beta_api = Api(channel)
            await beta_api.login("ops@beta", "pw-ops@beta", "beta")
            again = await beta_api.tasks.GetTask(
                task_pb2.GetTaskRequest(task_id=task.task_id),
                metadata=beta_api.metadata,
            )
            environment = again.task.payload.command.environment
            assert environment["DB_PASSWORD"] == "[REDACTED]"


def write_spec(path: Path, task_id: str, spec: bytes) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("UPDATE tasks SET spec = ? WHERE task_id = ?", (spec, task_id))
        db.commit()
    finally:
        db.close()


async def test_altered_or_moved_payload_fails(database_hub):
    server, api, channel = database_hub
    await create_tenant(api, "alpha")
    await create_tenant(api, "beta")
    alpha_api = await tenant_admin(server, channel, "alpha")
    beta_api = await tenant_admin(server, channel, "beta")
    alpha_client = await add_client(alpha_api, "worker")
    beta_client = await add_client(beta_api, "worker")
    altered = await submit(alpha_api, alpha_client, secret_http_spec())
    moved = await submit(alpha_api, alpha_client, secret_http_spec())
    foreign = await submit(beta_api, beta_client, secret_http_spec())
    alpha_db = data_dir(server) / "tenants" / "alpha.db"
    beta_db = data_dir(server) / "tenants" / "beta.db"
    sql = "SELECT spec FROM tasks WHERE task_id = ?"

    blob = bytearray(rows(alpha_db, sql, (altered.task_id,))[0][0])
    blob[-1] ^= 0x01
    write_spec(alpha_db, altered.task_id, bytes(blob))
    error = await rpc_error(
        alpha_api.tasks.GetTask(
            task_pb2.GetTaskRequest(task_id=altered.task_id),
            metadata=alpha_api.metadata,
        )
    )
    assert error.code() == Code.DATA_LOSS
    assert "authentication failed" in error.details()

    # Beta's payload copied into alpha's file names a key alpha's file lacks.
    write_spec(alpha_db, moved.task_id, rows(beta_db, sql, (foreign.task_id,))[0][0])
    error = await rpc_error(
        alpha_api.tasks.GetTask(
            task_pb2.GetTaskRequest(task_id=moved.task_id),
            metadata=alpha_api.metadata,
        )
    )
    assert error.code() == Code.DATA_LOSS
    assert "not found" in error.details()
