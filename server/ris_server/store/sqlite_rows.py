"""Schema and row conversions of the SQLite store."""

import json
import logging
import sqlite3

from ris.v1 import task_pb2
from ris_server.errors import NotFound
from ris_server.models import (
    Client,
    Task,
    Tenant,
    User,
)

log = logging.getLogger(__name__)

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
