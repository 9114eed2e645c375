"""Tasks of the SQLite store: the queue, leases, results and lookups.

A mixin of SqliteStore, which provides the connection helpers `_read`,
`_write` and the decryption of task payloads.
"""

import logging
import sqlite3
from typing import Any

from ris.v1 import task_pb2
from ris_server.errors import FailedPrecondition
from ris_server.keyring import KeyringError
from ris_server.models import Task
from ris_server.store.base import TaskOutcome
from ris_server.store.sqlite_rows import (
    _TASK_COLUMNS,
    ACTIVE_STATUSES,
    CANCELLED,
    PENDING,
    QUEUED,
    RUNNING,
    _tenant_task,
)

log = logging.getLogger(__name__)


class TasksMixin:
    """Task methods of SqliteStore."""

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

    async def tenant_storage_bytes(self, tenant_code: str) -> int:
        rows = await self._read(
            "SELECT COALESCE(SUM(length(spec) + COALESCE(length(result), 0) "
            "+ COALESCE(length(progress), 0) + length(error)), 0) "
            "FROM tasks WHERE tenant_code = ?",
            (tenant_code,),
        )
        return rows[0][0]

    async def delete_finished_tasks(self, before: float, limit: int) -> int:
        return await self._write(
            lambda db: (
                db.execute(
                    "DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks "
                    "WHERE status NOT IN (?,?,?) AND completed_at < ? LIMIT ?)",
                    (*ACTIVE_STATUSES, before, limit),
                ).rowcount
            )
        )

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
