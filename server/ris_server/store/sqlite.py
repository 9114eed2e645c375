"""SQLite store: the embedded default, one database file in the data directory.

All statements run on one dedicated thread, so the connection is never shared
between threads and writes are serialized. The database runs in WAL mode
with synchronous=FULL, so a committed write survives a crash of the process
or of the machine.

SqliteStore keeps the connection, transactions and encryption here; its
methods come by concept from sqlite_accounts (tenants, users, sessions),
sqlite_clients (clients, enrollment tokens, certificates) and sqlite_tasks
(the queue), with the schema and row conversions in sqlite_rows.
"""

import asyncio
import functools
import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ris.v1 import task_pb2
from ris_server.keyring import DataKeyRecord, Keyring, KeyringError
from ris_server.models import (
    Task,
    Tenant,
)
from ris_server.store import encrypted_fields
from ris_server.store.encrypted_fields import FieldCipher
from ris_server.store.group_commit import GroupCommitter
from ris_server.store.sqlite_accounts import AccountsMixin
from ris_server.store.sqlite_clients import ClientsMixin
from ris_server.store.sqlite_rows import SCHEMA, _add_missing_columns, _task, _tenant
from ris_server.store.sqlite_tasks import TasksMixin

log = logging.getLogger(__name__)
T = TypeVar("T")


class SqliteStore(AccountsMixin, ClientsMixin, TasksMixin):
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
