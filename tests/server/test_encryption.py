"""Encryption at rest: envelopes, data key rotation, master key, real database files."""

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest

from ris.v1 import agent_pb2, task_pb2, tenant_pb2
from ris_server import bootstrap
from ris_server.app import HubServer
from ris_server.bootstrap import PASSWORD_ENV
from ris_server.config import load_config
from ris_server.keyring import (
    ENVELOPE_MAGIC,
    ENVELOPE_VERSION,
    KEY_ID_SIZE,
    NONCE_SIZE,
    DecryptionError,
    Envelope,
    Keyring,
    KeyringError,
    Place,
    envelope_key_id,
    is_envelope,
)
from ris_server.models import Task, Tenant
from ris_server.pki import write_private
from ris_server.secrets_store import (
    MasterKeyError,
    MasterKeyLock,
    pending_master_key_path,
    read_master_key,
)
from ris_server.store.sqlite import SqliteStore
from tests.server.conftest import connect_api
from tests.server.test_agent_stream import RawAgent, enroll
from tests.server.test_api import add_client
from tests.support import ADMIN_PASSWORD, Api, local_hub_config

Code = grpc.StatusCode
DAY = 86_400.0
REPO = Path(__file__).resolve().parents[2]

HEADER_TOKEN = "hdr-token-5c1e8a7f2b"
URL_PASSWORD = "urlpw-9d04b7e3c6"
AUTH_PASSWORD = "authpw-61f0ad28e4"
ENV_SECRET = "envsecret-3a7c91d0fe"
DB_PASSWORD = "dbpw-80e2c4b19a"
SECRETS = (HEADER_TOKEN, URL_PASSWORD, AUTH_PASSWORD, ENV_SECRET)


def secret_http_spec() -> task_pb2.TaskSpec:
    return task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_HTTP_REQUEST,
        http_request=task_pb2.HttpRequestTask(
            method="GET",
            url=f"http://svc:{URL_PASSWORD}@127.0.0.1:9/x",
            headers={"Authorization": f"Bearer {HEADER_TOKEN}", "Accept": "*/*"},
            auth=task_pb2.HttpAuth(username="svc", password=AUTH_PASSWORD),
        ),
    )


def secret_command_spec() -> task_pb2.TaskSpec:
    return task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_COMMAND,
        command=task_pb2.CommandTask(
            command="/bin/true", environment={"DB_PASSWORD": ENV_SECRET}
        ),
    )


@pytest.fixture
async def hubs(tmp_path, monkeypatch):
    """Start and restart hubs whose data directories outlive them."""
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    running: list[HubServer] = []

    class Hubs:
        def config(self, name="hub", **sections):
            # These tests read raw rows from the single shared file; the
            # database-per-tenant layout has its own checks.
            multi_tenant = sections.setdefault("multi_tenant", {})
            multi_tenant.setdefault("tenant_isolation", "shared")
            return local_hub_config(tmp_path / name, **sections)

        async def start(self, config) -> HubServer:
            server = HubServer(config)
            await server.start()
            running.append(server)
            return server

        async def stop(self, server: HubServer) -> None:
            running.remove(server)
            await server.stop(grace=0.5)

    yield Hubs()
    for server in running:
        await server.stop(grace=0.5)


async def login(server) -> Api:
    api = Api(await connect_api(server))
    await api.login()
    return api


async def submit(api, client, spec) -> task_pb2.Task:
    response = await api.tasks.ExecuteTask(
        task_pb2.ExecuteTaskRequest(
            client_id=client.unique_client_id, task=spec, run_async=True
        ),
        metadata=api.metadata,
    )
    return response.task


async def get_task(api, task_id) -> task_pb2.Task:
    request = task_pb2.GetTaskRequest(task_id=task_id)
    return (await api.tasks.GetTask(request, metadata=api.metadata)).task


async def open_agent(server, key, cert) -> RawAgent:
    """Connect an agent that runs http_request and command tasks."""
    agent = RawAgent(server.hub, key, cert)
    await agent.write(
        agent_pb2.ConnectRequest(
            registration=agent_pb2.Registration(
                hostname="h1",
                version="test",
                capabilities=["http_request", "command"],
                max_concurrent_tasks=4,
            )
        )
    )
    assert (await agent.receive()).HasField("registration_ack")
    return agent


async def assignments(agent: RawAgent, count: int) -> dict[str, task_pb2.TaskSpec]:
    received = {}
    while len(received) < count:
        message = await agent.receive(timeout=10)
        if message.HasField("assignment"):
            received[message.assignment.task_id] = message.assignment.spec
    return received


def database_files(server) -> dict[str, bytes]:
    """Return the raw bytes of the database file, its -wal and its -shm file."""
    path = server.hub.store.path
    files = {}
    for suffix in ("", "-wal", "-shm"):
        file = Path(f"{path}{suffix}")
        files[file.name] = file.read_bytes() if file.exists() else b""
    return files


def raw_column(db_path: Path, sql: str, params: tuple = ()):
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql, params).fetchone()[0]
    finally:
        db.close()


def write_column(db_path: Path, sql: str, params: tuple) -> None:
    db = sqlite3.connect(db_path)
    try:
        db.execute(sql, params)
        db.commit()
    finally:
        db.close()


def stored_spec(server, task_id: str) -> bytes:
    return raw_column(
        server.hub.store.path, "SELECT spec FROM tasks WHERE task_id = ?", (task_id,)
    )


def run_keys(config, *args: str) -> subprocess.CompletedProcess:
    """Run ris-keys in its own process on the hub's data directory."""
    env = {**os.environ, "CONFIG_PATH": str(config.data_dir.parent / "config.json")}
    return subprocess.run(
        [sys.executable, "-m", "ris_server.keys_cli"]
        + ["--data-dir", str(config.data_dir), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def make_task(tenant_code: str, spec: task_pb2.TaskSpec) -> Task:
    return Task(
        task_id=str(uuid.uuid4()),
        tenant_code=tenant_code,
        client_uid=str(uuid.uuid4()),
        user_id="u1",
        type=spec.type,
        status=task_pb2.TASK_STATUS_QUEUED,
        priority=3,
        spec=spec.SerializeToString(),
        timeout=30,
        max_attempts=1,
        created_at=time.time(),
    )


# Keyring and envelope, without a hub.


def test_envelope_layout_and_round_trip():
    keyring = Keyring(os.urandom(32))
    record = keyring.create_data_key("t1")
    keyring.add(record)
    place = Place("tasks", "spec", "row-1")
    blob = keyring.encrypt("t1", place, b"payload")
    assert blob.startswith(ENVELOPE_MAGIC + bytes([ENVELOPE_VERSION]))
    assert blob[5 : 5 + KEY_ID_SIZE].hex() == record.key_id
    envelope = Envelope.parse(blob)
    assert len(envelope.nonce) == NONCE_SIZE
    assert len(envelope.ciphertext) == len(b"payload") + 16
    assert keyring.decrypt("t1", place, blob) == b"payload"
    # A fresh nonce each time: the same value never encrypts the same way.
    assert keyring.encrypt("t1", place, b"payload") != blob
    assert is_envelope(blob)
    assert not is_envelope(secret_http_spec().SerializeToString())


def test_envelope_rejects_other_place_version_and_truncation():
    keyring = Keyring(os.urandom(32))
    keyring.add(keyring.create_data_key("t1"))
    blob = keyring.encrypt("t1", Place("tasks", "spec", "row-1"), b"payload")
    for other in (
        Place("tasks", "spec", "row-2"),
        Place("tasks", "result", "row-1"),
        Place("tenants", "spec", "row-1"),
    ):
        with pytest.raises(DecryptionError, match="authentication failed"):
            keyring.decrypt("t1", other, blob)
    newer = blob[:4] + bytes([ENVELOPE_VERSION + 1]) + blob[5:]
    with pytest.raises(DecryptionError, match="version 2"):
        keyring.decrypt("t1", Place("tasks", "spec", "row-1"), newer)
    with pytest.raises(DecryptionError, match="truncated"):
        keyring.decrypt("t1", Place("tasks", "spec", "row-1"), blob[:20])


def test_rotation_due_follows_injected_clock():
    now = [1_000_000.0]
    keyring = Keyring(os.urandom(32), rotation_days=30, clock=lambda: now[0])
    assert keyring.rotation_due("t1")
    keyring.add(keyring.create_data_key("t1"))
    assert not keyring.rotation_due("t1")
    now[0] += 30 * DAY - 1
    assert not keyring.rotation_due("t1")
    now[0] += 1
    assert keyring.rotation_due("t1")
    assert keyring.rotation_due("t2")


def test_rewrap_keeps_data_keys_and_needs_new_master():
    old_master, new_master = os.urandom(32), os.urandom(32)
    keyring = Keyring(old_master)
    keyring.add(keyring.create_data_key("t1"))
    place = Place("tasks", "spec", "row-1")
    blob = keyring.encrypt("t1", place, b"payload")
    rewrapped = keyring.rewrap(new_master)
    assert Keyring(new_master, rewrapped).decrypt("t1", place, blob) == b"payload"
    with pytest.raises(KeyringError, match="master key does not match"):
        Keyring(old_master, rewrapped)
    with pytest.raises(KeyringError, match="must be 32 bytes"):
        keyring.rewrap(b"short")


def test_wrapped_key_bound_to_its_tenant():
    master = os.urandom(32)
    record = Keyring(master).create_data_key("t1")
    moved = type(record)(record.key_id, "t2", record.wrapped, record.created_at)
    with pytest.raises(KeyringError, match="cannot unwrap data key"):
        Keyring(master, [moved])


# Master key file.


def test_master_key_file_checks(tmp_path):
    path = tmp_path / "master.key"
    with pytest.raises(MasterKeyError, match="not found"):
        read_master_key(path)
    write_private(path, os.urandom(32))
    assert len(read_master_key(path)) == 32
    for mode in (0o640, 0o604, 0o660):
        path.chmod(mode)
        with pytest.raises(MasterKeyError, match=f"mode {mode:04o}.*chmod 600"):
            read_master_key(path)
    path.chmod(0o600)
    write_private(path, os.urandom(31))
    with pytest.raises(MasterKeyError, match="contains 31 bytes.*exactly 32"):
        read_master_key(path)
    directory = tmp_path / "dir.key"
    directory.mkdir(mode=0o700)
    with pytest.raises(MasterKeyError, match="not a regular file"):
        read_master_key(directory)


def test_master_key_lock_excludes_rotation(tmp_path):
    path = tmp_path / "master.key"
    write_private(path, os.urandom(32))
    hub_lock = MasterKeyLock(path, exclusive=False)
    with pytest.raises(MasterKeyError, match="a hub is running"):
        MasterKeyLock(path, exclusive=True)
    hub_lock.release()
    MasterKeyLock(path, exclusive=True).release()


async def test_hub_creates_master_key_0600(hubs):
    server = await hubs.start(hubs.config())
    path = server.config.data_dir / "master.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(path.read_bytes()) == 32


async def test_hub_start_rejects_bad_master_key(hubs):
    config = hubs.config()
    server = await hubs.start(config)
    await hubs.stop(server)
    path = config.data_dir / "master.key"
    path.chmod(0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        await HubServer(config).start()
    path.chmod(0o600)
    write_private(path, os.urandom(32))
    with pytest.raises(KeyringError, match="master key does not match"):
        await HubServer(config).start()
    path.unlink()
    with pytest.raises(MasterKeyError, match="not found"):
        await HubServer(config).start()


async def test_configured_master_key_file_must_exist(hubs, tmp_path):
    missing = tmp_path / "keys" / "ris-master.key"
    config = hubs.config(
        security={"encryption": {"data_at_rest": {"master_key_file": str(missing)}}}
    )
    with pytest.raises(MasterKeyError, match=f"{missing} not found"):
        await HubServer(config).start()
    missing.parent.mkdir()
    write_private(missing, os.urandom(32))
    server = await hubs.start(config)
    assert not (config.data_dir / "master.key").exists()
    assert server.hub.store.keyring.records()


# Real hubs and database files.


async def test_payload_secrets_never_reach_database_files(hubs):
    server = await hubs.start(hubs.config())
    api = await login(server)
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    http = await submit(api, client, secret_http_spec())
    command = await submit(api, client, secret_command_spec())

    # Read the files as they are, with the write-ahead log not yet copied.
    for name, content in database_files(server).items():
        for secret in SECRETS:
            assert secret.encode() not in content, f"{secret} found in {name}"
    await server.hub.store.checkpoint()
    files = database_files(server)
    assert files["ris.db"]
    for name, content in files.items():
        for secret in SECRETS:
            assert secret.encode() not in content, f"{secret} found in {name}"
    assert is_envelope(stored_spec(server, http.task_id))

    listing = await api.tasks.ListTasks(
        task_pb2.ListTasksRequest(), metadata=api.metadata
    )
    shown = {task.task_id: task.payload for task in listing.tasks}
    assert shown[http.task_id].http_request.headers["Authorization"] == "[REDACTED]"
    assert URL_PASSWORD not in shown[http.task_id].http_request.url
    assert shown[command.task_id].command.environment["DB_PASSWORD"] == "[REDACTED]"

    agent = await open_agent(server, key, cert)
    specs = await assignments(agent, 2)
    http_spec = specs[http.task_id].http_request
    assert http_spec.headers["Authorization"] == f"Bearer {HEADER_TOKEN}"
    assert http_spec.url == f"http://svc:{URL_PASSWORD}@127.0.0.1:9/x"
    assert http_spec.auth.password == AUTH_PASSWORD
    assert specs[command.task_id].command.environment["DB_PASSWORD"] == ENV_SECRET
    await agent.close()
    await api.channel.close()


async def test_tenant_database_password_encrypted(hubs):
    server = await hubs.start(hubs.config())
    store = server.hub.store
    tenant = Tenant(
        id=str(uuid.uuid4()),
        code="acme",
        name="Acme",
        settings={"timezone": "UTC", "language": "en", "features": []},
        database_info={"type": "mongodb", "username": "ris", "password": DB_PASSWORD},
        created_at=time.time(),
        updated_at=time.time(),
    )
    await store.create_tenant(tenant)
    await store.checkpoint()
    for name, content in database_files(server).items():
        assert DB_PASSWORD.encode() not in content, f"password found in {name}"
    stored = raw_column(
        store.path, "SELECT database_info FROM tenants WHERE code = 'acme'"
    )
    assert '"username": "ris"' in stored
    assert (await store.get_tenant("acme")).database_info["password"] == DB_PASSWORD

    api = await login(server)
    response = await api.tenants.GetTenantInfo(
        tenant_pb2.GetTenantInfoRequest(tenant_uuid=tenant.id), metadata=api.metadata
    )
    assert response.tenant.database_info.username == "ris"
    assert DB_PASSWORD not in str(response)
    await api.channel.close()


async def test_rotation_keeps_old_rows_readable(hubs):
    config = hubs.config(
        security={"encryption": {"data_at_rest": {"key_rotation_days": 30}}}
    )
    server = await hubs.start(config)
    api = await login(server)
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    keyring = server.hub.store.keyring
    old = await submit(api, client, secret_http_spec())
    old_key = envelope_key_id(stored_spec(server, old.task_id))

    keyring.clock = lambda: time.time() + 29 * DAY
    same = await submit(api, client, secret_http_spec())
    assert envelope_key_id(stored_spec(server, same.task_id)) == old_key

    keyring.clock = lambda: time.time() + 31 * DAY
    new = await submit(api, client, secret_command_spec())
    new_key = envelope_key_id(stored_spec(server, new.task_id))
    assert new_key != old_key
    assert keyring.newest("default").key_id == new_key
    tenant_keys = [r for r in keyring.records() if r.tenant_code == "default"]
    assert len(tenant_keys) == 2
    assert envelope_key_id(stored_spec(server, old.task_id)) == old_key

    assert (await get_task(api, old.task_id)).payload.http_request.method == "GET"
    agent = await open_agent(server, key, cert)
    specs = await assignments(agent, 3)
    assert specs[old.task_id].http_request.auth.password == AUTH_PASSWORD
    assert specs[new.task_id].command.environment["DB_PASSWORD"] == ENV_SECRET
    await agent.close()

    # The re-encryption pass, from its own process while the hub runs.
    done = run_keys(config, "reencrypt")
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 2 task rows" in done.stdout
    for task in (old, same, new):
        assert envelope_key_id(stored_spec(server, task.task_id)) == new_key
    # With --new-keys the pass makes keys the running hub has not loaded yet.
    done = run_keys(config, "reencrypt", "--new-keys")
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 3 task rows" in done.stdout
    newest = envelope_key_id(stored_spec(server, old.task_id))
    assert newest not in (old_key, new_key)
    assert not keyring.knows(newest)
    assert (await get_task(api, old.task_id)).task_id == old.task_id
    assert keyring.knows(newest)
    listed = run_keys(config, "list")
    assert listed.returncode == 0, listed.stderr
    assert newest in listed.stdout
    assert old_key in listed.stdout
    await api.channel.close()


async def test_tampered_ciphertext_fails_clearly(hubs):
    server = await hubs.start(hubs.config())
    api = await login(server)
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    task = await submit(api, client, secret_http_spec())
    blob = bytearray(stored_spec(server, task.task_id))
    blob[-1] ^= 0x01
    write_column(
        server.hub.store.path,
        "UPDATE tasks SET spec = ? WHERE task_id = ?",
        (bytes(blob), task.task_id),
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await get_task(api, task.task_id)
    assert info.value.code() == Code.DATA_LOSS
    assert "authentication failed" in info.value.details()
    assert task.task_id in info.value.details()

    # The unreadable task ends as failed when claimed; the next one still runs.
    good = await submit(api, client, secret_command_spec())
    agent = await open_agent(server, key, cert)
    specs = await assignments(agent, 1)
    assert list(specs) == [good.task_id]
    db_path = server.hub.store.path
    sql = "SELECT status FROM tasks WHERE task_id = ?"
    assert raw_column(db_path, sql, (task.task_id,)) == task_pb2.TASK_STATUS_FAILED
    error = raw_column(
        db_path, "SELECT error FROM tasks WHERE task_id = ?", (task.task_id,)
    )
    assert error.startswith("payload unreadable: cannot decrypt tasks.spec")
    await agent.close()
    await api.channel.close()


async def test_value_moved_between_rows_or_tenants_fails(hubs):
    server = await hubs.start(hubs.config())
    store = server.hub.store
    await store.create_tenant(Tenant(id=str(uuid.uuid4()), code="other", name="O"))
    ours = make_task("default", secret_http_spec())
    sibling = make_task("default", secret_command_spec())
    theirs = make_task("other", secret_command_spec())
    for task in (ours, sibling, theirs):
        assert await store.insert_task(task, 100)
    blob = stored_spec(server, ours.task_id)
    for target in (sibling, theirs):
        write_column(
            store.path,
            "UPDATE tasks SET spec = ? WHERE task_id = ?",
            (blob, target.task_id),
        )
    with pytest.raises(DecryptionError, match="copied from another tenant"):
        await store.get_task("other", theirs.task_id)
    with pytest.raises(DecryptionError, match="copied from another row"):
        await store.get_task("default", sibling.task_id)
    assert (await store.get_task("default", ours.task_id)).spec == ours.spec


async def test_master_key_rotation_and_restart(hubs):
    config = hubs.config()
    server = await hubs.start(config)
    api = await login(server)
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    task = await submit(api, client, secret_command_spec())
    await api.channel.close()

    refused = run_keys(config, "rotate-master")
    assert refused.returncode == 1
    assert "a hub is running" in refused.stderr

    await hubs.stop(server)
    master_path = config.data_dir / "master.key"
    old_master = master_path.read_bytes()
    db_path = config.data_dir / "ris.db"
    spec_before = raw_column(
        db_path, "SELECT spec FROM tasks WHERE task_id = ?", (task.task_id,)
    )
    wrapped_before = raw_column(db_path, "SELECT wrapped FROM data_keys")

    rotated = run_keys(config, "rotate-master")
    assert rotated.returncode == 0, rotated.stderr
    assert "rewrapped 1 data keys" in rotated.stdout
    assert master_path.read_bytes() != old_master
    assert master_path.stat().st_mode & 0o777 == 0o600
    assert not pending_master_key_path(master_path).exists()
    assert raw_column(db_path, "SELECT wrapped FROM data_keys") != wrapped_before
    spec_after = raw_column(
        db_path, "SELECT spec FROM tasks WHERE task_id = ?", (task.task_id,)
    )
    assert spec_after == spec_before

    server = await hubs.start(config)
    api = await login(server)
    again = await get_task(api, task.task_id)
    assert again.payload.command.environment["DB_PASSWORD"] == "[REDACTED]"
    agent = await open_agent(server, key, cert)
    specs = await assignments(agent, 1)
    assert specs[task.task_id].command.environment["DB_PASSWORD"] == ENV_SECRET
    await agent.close()
    await api.channel.close()


async def test_interrupted_master_rotation_recovers(tmp_path):
    config = load_config(env={}, overrides={("server", "data_dir"): str(tmp_path)})
    store = await SqliteStore.open(tmp_path / "ris.db")
    try:
        keyring, lock = await bootstrap.open_keyring(store, config)
        task = make_task("default", secret_command_spec())
        assert await store.insert_task(task, 10)
        lock.release()
        master_path = config.data_dir / "master.key"
        pending = pending_master_key_path(master_path)

        # Stopped before the rewrap committed: the old key stays.
        write_private(pending, os.urandom(32))
        old_master = master_path.read_bytes()
        _, lock = await bootstrap.open_keyring(store, config)
        lock.release()
        assert not pending.exists()
        assert master_path.read_bytes() == old_master

        # Stopped after the rewrap committed: the new key is moved into place.
        new_master = os.urandom(32)
        write_private(pending, new_master)
        await store.replace_wrapped_keys(keyring.rewrap(new_master))
        _, lock = await bootstrap.open_keyring(store, config)
        lock.release()
        assert master_path.read_bytes() == new_master
        assert not pending.exists()
        assert (await store.get_task("default", task.task_id)).spec == task.spec
    finally:
        await store.close()


async def test_disabled_writes_plain_and_reads_envelopes(hubs):
    config = hubs.config()
    server = await hubs.start(config)
    api = await login(server)
    client = await add_client(api)
    key, cert, _ = await enroll(api, client)
    sealed = await submit(api, client, secret_http_spec())
    await api.channel.close()
    await hubs.stop(server)

    # The same data directory, with a config file that turns encryption off.
    plain_config = hubs.config(
        security={"encryption": {"data_at_rest": {"enabled": False}}}
    )
    assert plain_config.data_dir == config.data_dir
    server = await hubs.start(plain_config)
    api = await login(server)
    plain = await submit(api, client, secret_command_spec())
    assert is_envelope(stored_spec(server, sealed.task_id))
    assert not is_envelope(stored_spec(server, plain.task_id))
    assert ENV_SECRET.encode() in stored_spec(server, plain.task_id)
    await server.hub.store.checkpoint()
    assert ENV_SECRET.encode() in database_files(server)["ris.db"]
    assert HEADER_TOKEN.encode() not in database_files(server)["ris.db"]

    assert (await get_task(api, sealed.task_id)).payload.http_request.method == "GET"
    agent = await open_agent(server, key, cert)
    specs = await assignments(agent, 2)
    assert specs[sealed.task_id].http_request.auth.password == AUTH_PASSWORD
    assert specs[plain.task_id].command.environment["DB_PASSWORD"] == ENV_SECRET
    await agent.close()
    refused = run_keys(plain_config, "reencrypt")
    assert refused.returncode == 1
    assert "enabled is false" in refused.stderr
    await api.channel.close()


async def test_restart_reads_tasks_and_tenants_back(hubs):
    config = hubs.config()
    server = await hubs.start(config)
    api = await login(server)
    client = await add_client(api)
    task = await submit(api, client, secret_http_spec())
    await api.channel.close()
    tenant = Tenant(
        id=str(uuid.uuid4()),
        code="acme",
        name="Acme",
        database_info={"type": "mongodb", "password": DB_PASSWORD},
    )
    await server.hub.store.create_tenant(tenant)
    await hubs.stop(server)

    server = await hubs.start(config)
    store = server.hub.store
    stored = await store.get_task("default", task.task_id)
    assert stored.spec == secret_http_spec().SerializeToString()
    assert (await store.get_tenant("acme")).database_info["password"] == DB_PASSWORD
    listed = {t.code: t for t in await store.list_tenants()}
    assert listed["acme"].database_info["password"] == DB_PASSWORD
    api = await login(server)
    shown = await get_task(api, task.task_id)
    assert shown.payload.http_request.headers["Accept"] == "*/*"
    await api.channel.close()


async def test_store_without_keyring_names_the_problem(hubs):
    config = hubs.config()
    server = await hubs.start(config)
    api = await login(server)
    client = await add_client(api)
    task = await submit(api, client, secret_http_spec())
    await api.channel.close()
    await hubs.stop(server)
    store = await SqliteStore.open(config.data_dir / "ris.db")
    try:
        with pytest.raises(KeyringError, match="opened without the master key"):
            await store.get_task("default", task.task_id)
    finally:
        await store.close()
    await asyncio.sleep(0)
