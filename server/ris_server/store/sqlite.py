"""SQLite store: the embedded default, one database file in the data directory.

All statements run on one dedicated thread, so the connection is never shared
between threads and writes are serialized. The database runs in WAL mode
with synchronous=FULL, so a committed write survives a crash of the process
or of the machine.
"""

import asyncio
import functools
import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ris.v1 import task_pb2
from ris_server.errors import AlreadyExists, FailedPrecondition, NotFound
from ris_server.keyring import DataKeyRecord, Keyring, KeyringError
from ris_server.models import (
    CertificateRecord,
    Client,
    EnrollmentToken,
    RefreshToken,
    Session,
    Task,
    Tenant,
    User,
)
from ris_server.store import encrypted_fields
from ris_server.store.base import TaskOutcome
from ris_server.store.encrypted_fields import FieldCipher
from ris_server.store.group_commit import GroupCommitter

log = logging.getLogger(__name__)
T = TypeVar("T")

QUEUED = task_pb2.TASK_STATUS_QUEUED
RUNNING = task_pb2.TASK_STATUS_RUNNING
PENDING = task_pb2.TASK_STATUS_PENDING
CANCELLED = task_pb2.TASK_STATUS_CANCELLED
ACTIVE_STATUSES = (PENDING, QUEUED, RUNNING)

SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
  id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  description TEXT NOT NULL, status INTEGER NOT NULL, limits TEXT NOT NULL,
  settings TEXT NOT NULL, database_info TEXT NOT NULL,
  created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, tenant_code TEXT NOT NULL, email TEXT NOT NULL,
  password_hash TEXT NOT NULL, role INTEGER NOT NULL, created_at REAL NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0, external INTEGER NOT NULL DEFAULT 0,
  UNIQUE (tenant_code, email));
CREATE TABLE IF NOT EXISTS refresh_tokens (
  jti TEXT PRIMARY KEY, family_id TEXT NOT NULL, user_id TEXT NOT NULL,
  tenant_code TEXT NOT NULL, expires_at REAL NOT NULL, used_at REAL,
  revoked_at REAL);
CREATE INDEX IF NOT EXISTS refresh_family ON refresh_tokens (family_id);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, tenant_code TEXT NOT NULL,
  created_at REAL NOT NULL, expires_at REAL NOT NULL, revoked_at REAL,
  revoke_reason TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, created_at);
CREATE INDEX IF NOT EXISTS sessions_revoked ON sessions (revoked_at);
CREATE TABLE IF NOT EXISTS clients (
  id INTEGER PRIMARY KEY AUTOINCREMENT, unique_client_id TEXT NOT NULL UNIQUE,
  tenant_code TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,
  host TEXT NOT NULL, status INTEGER NOT NULL, connected INTEGER NOT NULL,
  version TEXT NOT NULL, capabilities TEXT NOT NULL, ip_address TEXT NOT NULL,
  resource_usage TEXT NOT NULL, max_concurrent_tasks INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, last_seen REAL,
  UNIQUE (tenant_code, name));
CREATE TABLE IF NOT EXISTS enrollment_tokens (
  token_hash TEXT PRIMARY KEY, client_uid TEXT NOT NULL,
  tenant_code TEXT NOT NULL, expires_at REAL NOT NULL, used_at REAL);
CREATE TABLE IF NOT EXISTS certificates (
  serial TEXT PRIMARY KEY, client_uid TEXT NOT NULL, tenant_code TEXT NOT NULL,
  not_after REAL NOT NULL, revoked_at REAL, issued_at REAL, first_used_at REAL,
  replaces TEXT NOT NULL DEFAULT '', revocation_reason TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS certificates_client ON certificates (client_uid);
CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL UNIQUE,
  tenant_code TEXT NOT NULL, client_uid TEXT NOT NULL, user_id TEXT NOT NULL,
  type INTEGER NOT NULL, status INTEGER NOT NULL, priority INTEGER NOT NULL,
  spec BLOB NOT NULL, timeout INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
  attempt INTEGER NOT NULL, result BLOB, progress BLOB, error TEXT NOT NULL,
  created_at REAL NOT NULL, started_at REAL, completed_at REAL,
  dead_lettered INTEGER NOT NULL, cancel_requested INTEGER NOT NULL,
  available_at REAL NOT NULL DEFAULT 0,
  retry_on_failure INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS tasks_tenant ON tasks (tenant_code, seq);
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (client_uid, status, priority, seq);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status);
"""

_TASK_COLUMNS = (
    "task_id, tenant_code, client_uid, user_id, type, status, priority, spec, "
    "timeout, max_attempts, attempt, result, progress, error, created_at, "
    "started_at, completed_at, dead_lettered, cancel_requested, seq, available_at, "
    "retry_on_failure"
)
_CERTIFICATE_COLUMNS = (
    "serial, client_uid, tenant_code, not_after, revoked_at, issued_at, "
    "first_used_at, replaces, revocation_reason"
)
_CLIENT_COLUMNS = (
    "id, unique_client_id, tenant_code, name, description, host, status, "
    "connected, version, capabilities, ip_address, resource_usage, "
    "max_concurrent_tasks, created_ms, updated_ms, last_seen"
)


def _task(row: tuple) -> Task:
    return Task(
        *row[:17], bool(row[17]), bool(row[18]), row[19], row[20], bool(row[21])
    )


def _client(row: tuple) -> Client:
    return Client(
        id=row[0],
        unique_client_id=row[1],
        tenant_code=row[2],
        name=row[3],
        description=row[4],
        host=row[5],
        status=row[6],
        connected=bool(row[7]),
        version=row[8],
        capabilities=json.loads(row[9]),
        ip_address=row[10],
        resource_usage=json.loads(row[11]),
        max_concurrent_tasks=row[12],
        created_ms=row[13],
        updated_ms=row[14],
        last_seen=row[15],
    )


def _tenant(row: tuple) -> Tenant:
    return Tenant(
        id=row[0],
        code=row[1],
        name=row[2],
        description=row[3],
        status=row[4],
        limits=json.loads(row[5]),
        settings=json.loads(row[6]),
        database_info=json.loads(row[7]),
        created_at=row[8],
        updated_at=row[9],
    )


def _tenant_task(db: sqlite3.Connection, tenant_code: str, task_id: str) -> Task:
    """Read one task of a tenant inside a transaction; raise NotFound."""
    row = db.execute(
        f"SELECT {_TASK_COLUMNS} FROM tasks WHERE tenant_code = ? AND task_id = ?",
        (tenant_code, task_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"task {task_id} not found")
    return _task(row)


# Columns added after a table first shipped: databases created by an older
# version get them on open, with the default the new code expects.
_ADDED_COLUMNS = (
    ("users", "disabled", "INTEGER NOT NULL DEFAULT 0"),
    ("users", "external", "INTEGER NOT NULL DEFAULT 0"),
    ("certificates", "issued_at", "REAL"),
    ("certificates", "first_used_at", "REAL"),
    ("certificates", "replaces", "TEXT NOT NULL DEFAULT ''"),
    ("certificates", "revocation_reason", "TEXT NOT NULL DEFAULT ''"),
)


def _add_missing_columns(db: sqlite3.Connection) -> None:
    for table, column, declaration in _ADDED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            log.info("added column %s.%s", table, column)


def _user(row: tuple) -> User:
    return User(*row[:6], disabled=bool(row[6]), external=bool(row[7]))


def _revoke_session(
    db: sqlite3.Connection, session_id: str, now: float, reason: str
) -> bool:
    """Revoke a session and its refresh tokens inside a transaction."""
    sessions = db.execute(
        "UPDATE sessions SET revoked_at = ?, revoke_reason = ? "
        "WHERE id = ? AND revoked_at IS NULL",
        (now, reason, session_id),
    ).rowcount
    tokens = db.execute(
        "UPDATE refresh_tokens SET revoked_at = ? "
        "WHERE family_id = ? AND revoked_at IS NULL",
        (now, session_id),
    ).rowcount
    return sessions + tokens > 0


class SqliteStore:
    """Repository on one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None
        self._group_commit = GroupCommitter(self._executor, lambda: self._db)
        # Plain values until use_keyring(); envelopes then fail with a clear error.
        self._cipher = FieldCipher(None, encrypt=False)
        self._data_key_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> "SqliteStore":
        store = cls(path)
        await store._run(store._open)
        return store

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # The database contains password hashes and task payloads.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=5000")
        # Deleted and overwritten content is zeroed, so a value replaced by
        # its encrypted form leaves no plaintext in free pages.
        db.execute("PRAGMA secure_delete=ON")
        db.executescript(SCHEMA)
        db.executescript(encrypted_fields.DATA_KEYS_SCHEMA)
        _add_missing_columns(db)
        self._db = db
        log.info("opened SQLite store %s", self.path)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one IMMEDIATE transaction on the store thread."""
        db = self._db
        assert db is not None, "store is closed"
        db.execute("BEGIN IMMEDIATE")
        try:
            value = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return value

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a transaction that may commit with other queued writes."""
        return await self._group_commit.write(fn)

    async def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        def query() -> list[tuple]:
            assert self._db is not None, "store is closed"
            return self._db.execute(sql, params).fetchall()

        return await self._run(query)

    async def close(self) -> None:
        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await self._run(shut)
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._read("SELECT 1")

    # Encryption at rest (see encrypted_fields for the columns).
    def use_keyring(self, keyring: Keyring | None, *, encrypt: bool) -> None:
        """Decrypt stored envelopes with `keyring`, and encrypt new values if asked."""
        self._cipher = FieldCipher(
            keyring, encrypt=encrypt, load_key=encrypted_fields.key_loader(self.path)
        )

    @property
    def keyring(self) -> Keyring | None:
        return self._cipher.keyring

    async def list_data_keys(self) -> list[DataKeyRecord]:
        return await self._run(encrypted_fields.load_data_keys, self._db)

    async def save_data_key(self, record: DataKeyRecord) -> None:
        await self._write(lambda db: encrypted_fields.insert_data_key(db, record))

    async def replace_wrapped_keys(self, records: list[DataKeyRecord]) -> None:
        await self._write(lambda db: encrypted_fields.replace_wrapped_keys(db, records))

    async def _ensure_data_key(self, tenant_code: str, *, force: bool = False) -> None:
        """Store a new data key for the tenant when rotation is due (or forced).

        The key is committed before any value is encrypted with it, so an
        encrypted row never names a key that is not stored.
        """
        if not self._cipher.encrypt:
            return
        keyring = self._cipher.keyring
        async with self._data_key_lock:
            if not force and not keyring.rotation_due(tenant_code):
                return
            record = keyring.create_data_key(tenant_code)
            await self.save_data_key(record)
            keyring.add(record)
            log.info("created data key %s for tenant %s", record.key_id, tenant_code)

    async def reencrypt(
        self, *, new_keys: bool = False, batch_size: int = 200
    ) -> dict[str, int]:
        """Rewrite every encrypted column under each tenant's newest data key.

        With `new_keys`, every tenant first gets a new data key. Plain values
        left from a time when encryption was off are encrypted too. Returns
        the number of rewritten task rows and tenant rows.
        """
        if not self._cipher.encrypt:
            raise KeyringError(
                "security.encryption.data_at_rest.enabled is false; enable it "
                "before re-encrypting"
            )
        rows = await self._read(
            "SELECT code FROM tenants UNION SELECT tenant_code FROM tasks"
        )
        for (code,) in rows:
            await self._ensure_data_key(code, force=new_keys)
        tenants = await self._write(
            functools.partial(encrypted_fields.reencrypt_tenants, cipher=self._cipher)
        )
        after, tasks = 0, 0
        while True:
            batch = functools.partial(
                encrypted_fields.reencrypt_task_batch,
                cipher=self._cipher,
                after_seq=after,
                limit=batch_size,
            )
            last, count = await self._write(batch)
            if last is None:
                break
            after, tasks = last, tasks + count
        await self.checkpoint()
        return {"tasks": tasks, "tenants": tenants}

    async def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file and truncate it."""
        await self._run(
            lambda: self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        )

    def _task_of(self, row: tuple, *, lenient: bool = False) -> Task:
        """Build a task from a row, with its payload decrypted.

        With `lenient`, a payload that cannot be decrypted is logged and left
        empty, so the watchdog and agent reconnects still handle the other
        tasks (an agent given an empty payload reports the task failed).
        """
        if not lenient:
            return self._opened(_task(row))
        try:
            return self._opened(_task(row))
        except KeyringError as exc:
            log.error("task %s: %s; its payload is left empty", row[0], exc)
            task = _task(row)
            task.spec = b""
            return task

    def _fail_unreadable(
        self, db: sqlite3.Connection, task_id: str, error: KeyringError, now: float
    ) -> None:
        """End a queued task whose payload cannot be decrypted, so it is never sent."""
        log.error("task %s failed: %s", task_id, error)
        db.execute(
            "UPDATE tasks SET status = ?, error = ?, completed_at = ? "
            "WHERE task_id = ?",
            (task_pb2.TASK_STATUS_FAILED, f"payload unreadable: {error}", now, task_id),
        )

    def _opened(self, task: Task) -> Task:
        """Replace a task's stored payload with its plaintext."""
        task.spec = self._cipher.open_spec(task.tenant_code, task.task_id, task.spec)
        return task

    def _tenant_of(self, row: tuple) -> Tenant:
        tenant = _tenant(row)
        open_dict = self._cipher.open_dict
        tenant.settings = open_dict(tenant.code, tenant.id, "settings", tenant.settings)
        tenant.database_info = open_dict(
            tenant.code, tenant.id, "database_info", tenant.database_info
        )
        return tenant

    # Tenants.
    async def create_tenant(self, tenant: Tenant) -> None:
        await self._ensure_data_key(tenant.code)
        seal = functools.partial(self._cipher.dumps_dict, tenant.code, tenant.id)

        def insert(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO tenants VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        tenant.id,
                        tenant.code,
                        tenant.name,
                        tenant.description,
                        tenant.status,
                        json.dumps(tenant.limits),
                        seal("settings", tenant.settings),
                        seal("database_info", tenant.database_info),
                        tenant.created_at,
                        tenant.updated_at,
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"tenant {tenant.code!r} already exists") from None

        await self._write(insert)

    async def get_tenant(self, code: str) -> Tenant | None:
        rows = await self._read("SELECT * FROM tenants WHERE code = ?", (code,))
        return self._tenant_of(rows[0]) if rows else None

    async def get_tenant_by_id(self, tenant_id: str) -> Tenant | None:
        rows = await self._read("SELECT * FROM tenants WHERE id = ?", (tenant_id,))
        return self._tenant_of(rows[0]) if rows else None

    async def list_tenants(self) -> list[Tenant]:
        return [
            self._tenant_of(r)
            for r in await self._read("SELECT * FROM tenants ORDER BY code")
        ]

    # Users and refresh tokens.
    async def create_user(self, user: User) -> None:
        def insert(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO users VALUES (?,?,?,?,?,?,?,?)",
                    (
                        user.id,
                        user.tenant_code,
                        user.email,
                        user.password_hash,
                        user.role,
                        user.created_at,
                        int(user.disabled),
                        int(user.external),
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"user {user.email!r} already exists") from None

        await self._write(insert)

    async def get_user(self, tenant_code: str, email: str) -> User | None:
        rows = await self._read(
            "SELECT * FROM users WHERE tenant_code = ? AND email = ?",
            (tenant_code, email),
        )
        return _user(rows[0]) if rows else None

    async def get_user_by_id(self, user_id: str) -> User | None:
        rows = await self._read("SELECT * FROM users WHERE id = ?", (user_id,))
        return _user(rows[0]) if rows else None

    async def list_users(
        self, tenant_code: str, offset: int, limit: int
    ) -> tuple[list[User], int]:
        total = (
            await self._read(
                "SELECT COUNT(*) FROM users WHERE tenant_code = ?", (tenant_code,)
            )
        )[0][0]
        rows = await self._read(
            "SELECT * FROM users WHERE tenant_code = ? ORDER BY email LIMIT ? OFFSET ?",
            (tenant_code, limit, offset),
        )
        return [_user(row) for row in rows], total

    async def update_user(self, user: User) -> None:
        await self._write(
            lambda db: db.execute(
                "UPDATE users SET role = ?, password_hash = ?, disabled = ? "
                "WHERE id = ?",
                (user.role, user.password_hash, int(user.disabled), user.id),
            )
        )

    async def delete_user(self, user_id: str) -> bool:
        def delete(db: sqlite3.Connection) -> bool:
            db.execute("DELETE FROM refresh_tokens WHERE user_id = ?", (user_id,))
            return db.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount > 0

        return await self._write(delete)

    async def count_active_users(self, tenant_code: str, role: int) -> int:
        rows = await self._read(
            "SELECT COUNT(*) FROM users WHERE tenant_code = ? AND role >= ? "
            "AND disabled = 0",
            (tenant_code, role),
        )
        return rows[0][0]

    async def count_users(self) -> int:
        return (await self._read("SELECT COUNT(*) FROM users"))[0][0]

    async def save_refresh_token(self, token: RefreshToken) -> None:
        await self._write(
            lambda db: db.execute(
                "INSERT INTO refresh_tokens VALUES (?,?,?,?,?,?,?)",
                (
                    token.jti,
                    token.family_id,
                    token.user_id,
                    token.tenant_code,
                    token.expires_at,
                    token.used_at,
                    token.revoked_at,
                ),
            )
        )

    async def use_refresh_token(self, jti: str, now: float) -> RefreshToken | None:
        def use(db: sqlite3.Connection) -> RefreshToken | None:
            row = db.execute(
                "SELECT * FROM refresh_tokens WHERE jti = ?", (jti,)
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE refresh_tokens SET used_at = COALESCE(used_at, ?) "
                "WHERE jti = ?",
                (now, jti),
            )
            return RefreshToken(*row)

        return await self._write(use)

    async def revoke_refresh_family(self, family_id: str, now: float) -> int:
        return await self._write(
            lambda db: (
                db.execute(
                    "UPDATE refresh_tokens SET revoked_at = ? "
                    "WHERE family_id = ? AND revoked_at IS NULL",
                    (now, family_id),
                ).rowcount
            )
        )

    async def revoke_user_refresh_tokens(self, user_id: str, now: float) -> int:
        return await self._write(
            lambda db: (
                db.execute(
                    "UPDATE refresh_tokens SET revoked_at = ? "
                    "WHERE user_id = ? AND revoked_at IS NULL",
                    (now, user_id),
                ).rowcount
            )
        )

    async def upsert_directory_user(
        self, tenant_code: str, username: str, role: int, now: float
    ) -> User | None:
        def upsert(db: sqlite3.Connection) -> User | None:
            row = db.execute(
                "SELECT * FROM users WHERE tenant_code = ? AND email = ?",
                (tenant_code, username),
            ).fetchone()
            if row is None:
                user_id = str(uuid.uuid4())
                user = User(user_id, tenant_code, username, "", role, now)
                user.external = True
                db.execute(
                    "INSERT INTO users VALUES (?,?,?,?,?,?,?,?)",
                    (user.id, tenant_code, username, "", role, now, 0, 1),
                )
                return user
            user = _user(row)
            if not user.external or user.password_hash:
                return None
            if user.role != role:
                db.execute("UPDATE users SET role = ? WHERE id = ?", (role, user.id))
                user.role = role
            return user

        return await self._write(upsert)

    # Sessions.
    async def create_session(self, session: Session, max_active: int) -> list[Session]:
        def create(db: sqlite3.Connection) -> list[Session]:
            now = session.created_at
            db.execute(
                "INSERT INTO sessions VALUES (?,?,?,?,?,?,?)",
                (
                    session.id,
                    session.user_id,
                    session.tenant_code,
                    session.created_at,
                    session.expires_at,
                    session.revoked_at,
                    session.revoke_reason,
                ),
            )
            rows = db.execute(
                "SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL "
                "AND expires_at > ? ORDER BY created_at DESC, rowid DESC "
                "LIMIT -1 OFFSET ?",
                (session.user_id, now, max_active),
            ).fetchall()
            revoked = []
            for row in rows:
                old = Session(*row)
                old.revoked_at = now
                old.revoke_reason = "max_concurrent"
                _revoke_session(db, old.id, now, old.revoke_reason)
                revoked.append(old)
            return revoked

        return await self._write(create)

    async def get_session(self, session_id: str) -> Session | None:
        rows = await self._read("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return Session(*rows[0]) if rows else None

    async def extend_session(self, session_id: str, expires_at: float) -> None:
        await self._write(
            lambda db: db.execute(
                "UPDATE sessions SET expires_at = MAX(expires_at, ?) WHERE id = ?",
                (expires_at, session_id),
            )
        )

    async def revoke_session(self, session_id: str, now: float, reason: str) -> bool:
        return await self._write(
            lambda db: _revoke_session(db, session_id, now, reason)
        )

    async def revoke_user_sessions(
        self, user_id: str, now: float, reason: str
    ) -> list[str]:
        def revoke(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL",
                (user_id,),
            ).fetchall()
            for (session_id,) in rows:
                _revoke_session(db, session_id, now, reason)
            db.execute(
                "UPDATE refresh_tokens SET revoked_at = ? "
                "WHERE user_id = ? AND revoked_at IS NULL",
                (now, user_id),
            )
            return [row[0] for row in rows]

        return await self._write(revoke)

    async def revoked_sessions(self, since: float) -> list[tuple[str, float]]:
        rows = await self._read(
            "SELECT id, revoked_at FROM sessions WHERE revoked_at >= ?", (since,)
        )
        return [(row[0], row[1]) for row in rows]

    # Clients.
    async def create_client(self, client: Client) -> Client:
        def insert(db: sqlite3.Connection) -> Client:
            try:
                cursor = db.execute(
                    f"INSERT INTO clients ({_CLIENT_COLUMNS}) "
                    "VALUES (NULL,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        client.unique_client_id,
                        client.tenant_code,
                        client.name,
                        client.description,
                        client.host,
                        client.status,
                        int(client.connected),
                        client.version,
                        json.dumps(client.capabilities),
                        client.ip_address,
                        json.dumps(client.resource_usage),
                        client.max_concurrent_tasks,
                        client.created_ms,
                        client.updated_ms,
                        client.last_seen,
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(
                    f"a client named {client.name!r} already exists in tenant "
                    f"{client.tenant_code!r}"
                ) from None
            client.id = cursor.lastrowid
            return client

        return await self._write(insert)

    async def get_client(self, tenant_code: str, client_id: int) -> Client | None:
        rows = await self._read(
            f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE tenant_code = ? AND id = ?",
            (tenant_code, client_id),
        )
        return _client(rows[0]) if rows else None

    async def get_client_by_uid(
        self, tenant_code: str, unique_client_id: str
    ) -> Client | None:
        rows = await self._read(
            f"SELECT {_CLIENT_COLUMNS} FROM clients "
            "WHERE tenant_code = ? AND unique_client_id = ?",
            (tenant_code, unique_client_id),
        )
        return _client(rows[0]) if rows else None

    async def list_clients(
        self,
        tenant_code: str,
        offset: int,
        limit: int,
        status: int = 0,
        connected: bool | None = None,
    ) -> tuple[list[Client], int]:
        where = "tenant_code = ?"
        params: list[Any] = [tenant_code]
        if status:
            where += " AND status = ?"
            params.append(status)
        if connected is not None:
            where += " AND connected = ?"
            params.append(int(connected))
        total = (
            await self._read(
                f"SELECT COUNT(*) FROM clients WHERE {where}", tuple(params)
            )
        )[0][0]
        rows = await self._read(
            f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE {where} "
            "ORDER BY id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_client(r) for r in rows], total

    async def count_clients(self, tenant_code: str | None = None) -> int:
        if tenant_code is None:
            return (await self._read("SELECT COUNT(*) FROM clients"))[0][0]
        return (
            await self._read(
                "SELECT COUNT(*) FROM clients WHERE tenant_code = ?", (tenant_code,)
            )
        )[0][0]

    async def last_heartbeat(self) -> float | None:
        return (await self._read("SELECT MAX(last_seen) FROM clients"))[0][0]

    async def update_client(self, client: Client) -> None:
        def update(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "UPDATE clients SET name = ?, description = ?, host = ?, "
                    "status = ?, updated_ms = ? WHERE tenant_code = ? AND id = ?",
                    (
                        client.name,
                        client.description,
                        client.host,
                        client.status,
                        client.updated_ms,
                        client.tenant_code,
                        client.id,
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(
                    f"a client named {client.name!r} already exists in tenant "
                    f"{client.tenant_code!r}"
                ) from None

        await self._write(update)

    async def delete_client(self, tenant_code: str, client_id: int) -> None:
        def delete(db: sqlite3.Connection) -> None:
            cursor = db.execute(
                "DELETE FROM clients WHERE tenant_code = ? AND id = ?",
                (tenant_code, client_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"client {client_id} not found")

        await self._write(delete)

    async def record_connection(
        self,
        unique_client_id: str,
        *,
        connected: bool,
        now: float,
        ip_address: str = "",
        version: str = "",
        capabilities: list[str] | None = None,
        max_concurrent_tasks: int = 0,
    ) -> None:
        if not connected:
            await self._write(
                lambda db: db.execute(
                    "UPDATE clients SET connected = 0 WHERE unique_client_id = ?",
                    (unique_client_id,),
                )
            )
            return
        await self._write(
            lambda db: db.execute(
                "UPDATE clients SET connected = 1, last_seen = ?, ip_address = ?, "
                "version = ?, capabilities = ?, max_concurrent_tasks = ? "
                "WHERE unique_client_id = ?",
                (
                    now,
                    ip_address,
                    version,
                    json.dumps(capabilities or []),
                    max_concurrent_tasks,
                    unique_client_id,
                ),
            )
        )

    async def record_heartbeat(
        self, unique_client_id: str, now: float, resource_usage: dict
    ) -> None:
        await self._write(
            lambda db: db.execute(
                "UPDATE clients SET last_seen = ?, resource_usage = ? "
                "WHERE unique_client_id = ?",
                (now, json.dumps(resource_usage), unique_client_id),
            )
        )

    async def mark_all_disconnected(self) -> None:
        await self._write(lambda db: db.execute("UPDATE clients SET connected = 0"))

    # Enrollment tokens and certificates.
    async def save_enrollment_token(self, token: EnrollmentToken) -> None:
        await self._write(
            lambda db: db.execute(
                "INSERT INTO enrollment_tokens VALUES (?,?,?,?,?)",
                (
                    token.token_hash,
                    token.client_uid,
                    token.tenant_code,
                    token.expires_at,
                    token.used_at,
                ),
            )
        )

    async def consume_enrollment_token(
        self, token_hash: str, now: float
    ) -> EnrollmentToken | None:
        def consume(db: sqlite3.Connection) -> EnrollmentToken | None:
            cursor = db.execute(
                "UPDATE enrollment_tokens SET used_at = ? "
                "WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
                (now, token_hash, now),
            )
            if cursor.rowcount != 1:
                return None
            row = db.execute(
                "SELECT * FROM enrollment_tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return EnrollmentToken(*row)

        return await self._write(consume)

    async def record_certificate(
        self,
        serial: str,
        unique_client_id: str,
        tenant_code: str,
        not_after: float,
        issued_at: float | None = None,
        replaces: str = "",
    ) -> None:
        await self._write(
            lambda db: db.execute(
                f"INSERT INTO certificates ({_CERTIFICATE_COLUMNS}) "
                "VALUES (?,?,?,?,NULL,?,NULL,?,'')",
                (serial, unique_client_id, tenant_code, not_after, issued_at, replaces),
            )
        )

    async def get_certificate(self, serial: str) -> CertificateRecord | None:
        rows = await self._read(
            f"SELECT {_CERTIFICATE_COLUMNS} FROM certificates WHERE serial = ?",
            (serial,),
        )
        return CertificateRecord(*rows[0]) if rows else None

    async def list_client_certificates(
        self, unique_client_id: str
    ) -> list[CertificateRecord]:
        rows = await self._read(
            f"SELECT {_CERTIFICATE_COLUMNS} FROM certificates WHERE client_uid = ? "
            "ORDER BY COALESCE(issued_at, 0) DESC, not_after DESC",
            (unique_client_id,),
        )
        return [CertificateRecord(*row) for row in rows]

    async def is_certificate_revoked(self, serial: str) -> bool:
        rows = await self._read(
            "SELECT revoked_at FROM certificates WHERE serial = ?", (serial,)
        )
        # A certificate the hub has no record of was not issued by this hub's
        # store (for example, a restored CA key): treat it as revoked.
        return not rows or rows[0][0] is not None

    async def revoke_client_certificates(
        self, unique_client_id: str, now: float, reason: str = "", serial: str = ""
    ) -> list[str]:
        def revoke(db: sqlite3.Connection) -> list[str]:
            query = (
                "SELECT serial FROM certificates "
                "WHERE client_uid = ? AND revoked_at IS NULL"
            )
            params: tuple = (unique_client_id,)
            if serial:
                query += " AND serial = ?"
                params += (serial,)
            serials = [row[0] for row in db.execute(query, params)]
            db.executemany(
                "UPDATE certificates SET revoked_at = ?, revocation_reason = ? "
                "WHERE serial = ?",
                [(now, reason, item) for item in serials],
            )
            return serials

        return await self._write(revoke)

    async def revoked_serials(self, now: float) -> list[str]:
        rows = await self._read(
            "SELECT serial FROM certificates "
            "WHERE revoked_at IS NOT NULL AND not_after > ?",
            (now,),
        )
        return [row[0] for row in rows]

    async def mark_certificate_used(self, serial: str, now: float) -> bool:
        return await self._write(
            lambda db: (
                db.execute(
                    "UPDATE certificates SET first_used_at = ? "
                    "WHERE serial = ? AND first_used_at IS NULL",
                    (now, serial),
                ).rowcount
                == 1
            )
        )

    # Tasks.
    async def insert_task(self, task: Task, max_active: int) -> bool:
        await self._ensure_data_key(task.tenant_code)
        spec = self._cipher.seal_spec(task.tenant_code, task.task_id, task.spec)

        def insert(db: sqlite3.Connection) -> bool:
            active = db.execute(
                "SELECT COUNT(*) FROM tasks WHERE status IN (?,?,?)", ACTIVE_STATUSES
            ).fetchone()[0]
            if active >= max_active:
                return False
            cursor = db.execute(
                f"INSERT INTO tasks ({_TASK_COLUMNS}) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,?,?)",
                (
                    task.task_id,
                    task.tenant_code,
                    task.client_uid,
                    task.user_id,
                    task.type,
                    task.status,
                    task.priority,
                    spec,
                    task.timeout,
                    task.max_attempts,
                    task.attempt,
                    task.result,
                    task.progress,
                    task.error,
                    task.created_at,
                    task.started_at,
                    task.completed_at,
                    int(task.dead_lettered),
                    int(task.cancel_requested),
                    task.available_at,
                    int(task.retry_on_failure),
                ),
            )
            task.seq = cursor.lastrowid
            return True

        return await self._write(insert)

    async def get_task(self, tenant_code: str, task_id: str) -> Task | None:
        rows = await self._read(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE tenant_code = ? AND task_id = ?",
            (tenant_code, task_id),
        )
        return self._task_of(rows[0]) if rows else None

    async def get_task_any_tenant(self, task_id: str) -> Task | None:
        rows = await self._read(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)
        )
        return self._task_of(rows[0]) if rows else None

    async def list_tasks(
        self,
        tenant_code: str,
        *,
        status: int = 0,
        client_uid: str = "",
        limit: int = 50,
        before_seq: int | None = None,
        dead_lettered: bool | None = None,
    ) -> list[Task]:
        where = "tenant_code = ?"
        params: list[Any] = [tenant_code]
        if status:
            where += " AND status = ?"
            params.append(status)
        if client_uid:
            where += " AND client_uid = ?"
            params.append(client_uid)
        if before_seq is not None:
            where += " AND seq < ?"
            params.append(before_seq)
        if dead_lettered is not None:
            where += " AND dead_lettered = ?"
            params.append(int(dead_lettered))
        rows = await self._read(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE {where} "
            "ORDER BY seq DESC LIMIT ?",
            (*params, limit),
        )
        return [self._task_of(r) for r in rows]

    async def claim_tasks(
        self, client_uid: str, count: int, now: float, aging_interval: float = 0.0
    ) -> list[Task]:
        # Effective priority: one level more per full aging interval waited,
        # up to 5 (the same rule as retry.aged_priority), then oldest first.
        aging = aging_interval if aging_interval > 0 else 1e18

        def claim(db: sqlite3.Connection) -> list[Task]:
            rows = db.execute(
                f"SELECT {_TASK_COLUMNS} FROM tasks "
                "WHERE client_uid = ? AND status = ? AND available_at <= ? "
                "ORDER BY MIN(5, priority + CAST((? - created_at) / ? AS INTEGER)) "
                "DESC, seq LIMIT ?",
                (client_uid, QUEUED, now, now, aging, count),
            ).fetchall()
            tasks = []
            for row in rows:
                try:
                    tasks.append(self._task_of(row))
                except KeyringError as exc:
                    self._fail_unreadable(db, row[0], exc, now)
            for task in tasks:
                task.status = RUNNING
                task.attempt += 1
                task.started_at = now
                db.execute(
                    "UPDATE tasks SET status = ?, attempt = ?, started_at = ?, "
                    "progress = NULL WHERE task_id = ?",
                    (RUNNING, task.attempt, now, task.task_id),
                )
            return tasks

        return await self._write(claim)

    async def running_tasks(self, client_uid: str) -> list[Task]:
        rows = await self._read(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE client_uid = ? AND status = ?",
            (client_uid, RUNNING),
        )
        return [self._task_of(r, lenient=True) for r in rows]

    async def finish_task(
        self,
        task_id: str,
        attempt: int,
        status: int,
        result: bytes | None,
        error: str,
        now: float,
        dead_lettered: bool = False,
    ) -> TaskOutcome:
        def finish(db: sqlite3.Connection) -> TaskOutcome:
            row = db.execute(
                "SELECT status, attempt FROM tasks WHERE task_id = ?", (task_id,)
            ).fetchone()
            if row is None:
                return TaskOutcome.UNKNOWN
            if row[0] not in ACTIVE_STATUSES or row[1] != attempt:
                return TaskOutcome.STALE
            db.execute(
                "UPDATE tasks SET status = ?, result = ?, error = ?, completed_at = ?, "
                "dead_lettered = ? WHERE task_id = ?",
                (status, result, error, now, int(dead_lettered), task_id),
            )
            return TaskOutcome.APPLIED

        return await self._write(finish)

    async def requeue_task(
        self, task_id: str, attempt: int, available_at: float = 0.0
    ) -> bool:
        return await self._write(
            lambda db: (
                db.execute(
                    "UPDATE tasks SET status = ?, available_at = ? WHERE task_id = ? "
                    "AND status = ? AND attempt = ?",
                    (QUEUED, available_at, task_id, RUNNING, attempt),
                ).rowcount
                == 1
            )
        )

    async def expired_queued_tasks(self, now: float, max_wait: float) -> list[Task]:
        rows = await self._read(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE status IN (?, ?) "
            "AND MAX(created_at, available_at) + ? < ?",
            (PENDING, QUEUED, max_wait, now),
        )
        return [self._task_of(r, lenient=True) for r in rows]

    async def clients_with_queued_tasks(self, now: float) -> list[str]:
        rows = await self._read(
            "SELECT DISTINCT client_uid FROM tasks WHERE status = ? "
            "AND available_at <= ?",
            (QUEUED, now),
        )
        return [row[0] for row in rows]

    async def set_progress(self, task_id: str, attempt: int, progress: bytes) -> None:
        await self._write(
            lambda db: db.execute(
                "UPDATE tasks SET progress = ? WHERE task_id = ? AND attempt = ? "
                "AND status = ?",
                (progress, task_id, attempt, RUNNING),
            )
        )

    async def request_cancel(self, tenant_code: str, task_id: str, now: float) -> Task:
        def cancel(db: sqlite3.Connection) -> Task:
            task = self._opened(_tenant_task(db, tenant_code, task_id))
            if task.status in (PENDING, QUEUED):
                task.status = CANCELLED
                task.completed_at = now
                task.error = "cancelled before it started"
                db.execute(
                    "UPDATE tasks SET status = ?, completed_at = ?, error = ? "
                    "WHERE task_id = ?",
                    (CANCELLED, now, task.error, task_id),
                )
            elif task.status == RUNNING:
                task.cancel_requested = True
                db.execute(
                    "UPDATE tasks SET cancel_requested = 1 WHERE task_id = ?",
                    (task_id,),
                )
            else:
                raise FailedPrecondition(
                    f"task {task_id} already finished with status "
                    f"{task_pb2.TaskStatus.Name(task.status)}"
                )
            return task

        return await self._write(cancel)

    async def cancel_client_tasks(
        self, client_uid: str, reason: str, now: float
    ) -> list[str]:
        def cancel(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT task_id FROM tasks WHERE client_uid = ? AND status IN (?,?,?)",
                (client_uid, *ACTIVE_STATUSES),
            ).fetchall()
            db.execute(
                "UPDATE tasks SET status = ?, error = ?, completed_at = ? "
                "WHERE client_uid = ? AND status IN (?,?,?)",
                (CANCELLED, reason, now, client_uid, *ACTIVE_STATUSES),
            )
            return [row[0] for row in rows]

        return await self._write(cancel)

    async def redrive_task(self, tenant_code: str, task_id: str) -> Task:
        def redrive(db: sqlite3.Connection) -> Task:
            task = self._opened(_tenant_task(db, tenant_code, task_id))
            if not task.dead_lettered:
                raise FailedPrecondition(
                    f"task {task_id} is not on the dead-letter list"
                )
            task.status = QUEUED
            task.dead_lettered = False
            task.max_attempts = task.attempt + task.max_attempts
            task.completed_at = None
            task.error = ""
            db.execute(
                "UPDATE tasks SET status = ?, dead_lettered = 0, max_attempts = ?, "
                "completed_at = NULL, error = '', result = NULL WHERE task_id = ?",
                (QUEUED, task.max_attempts, task_id),
            )
            return task

        return await self._write(redrive)

    async def expired_running_tasks(self, now: float, grace: float) -> list[Task]:
        rows = await self._read(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE status = ? "
            "AND started_at + timeout + ? < ?",
            (RUNNING, grace, now),
        )
        return [self._task_of(r, lenient=True) for r in rows]

    async def task_counts(self, since: float) -> dict[str, int]:
        rows = await self._read(
            "SELECT status, COUNT(*) FROM tasks WHERE status IN (?,?,?) "
            "OR completed_at >= ? GROUP BY status",
            (*ACTIVE_STATUSES, since),
        )
        return {task_pb2.TaskStatus.Name(status): count for status, count in rows}

    async def count_active_tasks(self, tenant_code: str | None = None) -> int:
        if tenant_code is None:
            sql, params = (
                "SELECT COUNT(*) FROM tasks WHERE status IN (?,?,?)",
                ACTIVE_STATUSES,
            )
        else:
            sql = (
                "SELECT COUNT(*) FROM tasks WHERE tenant_code = ? AND status IN (?,?,?)"
            )
            params = (tenant_code, *ACTIVE_STATUSES)
        return (await self._read(sql, params))[0][0]

    # Lookups for the per-tenant database router (store/tenant_databases.py).
    # They read no encrypted column, so they work before use_keyring().
    async def tenant_codes(self) -> list[str]:
        return [row[0] for row in await self._read("SELECT code FROM tenants")]

    async def client_uids(self) -> list[str]:
        rows = await self._read("SELECT unique_client_id FROM clients")
        return [row[0] for row in rows]

    async def has_task(self, task_id: str) -> bool:
        rows = await self._read("SELECT 1 FROM tasks WHERE task_id = ?", (task_id,))
        return bool(rows)

    async def count_tasks(self) -> int:
        return (await self._read("SELECT COUNT(*) FROM tasks"))[0][0]
