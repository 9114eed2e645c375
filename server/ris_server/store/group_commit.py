"""Group commit: write transactions that queue up share one COMMIT.

In WAL mode with synchronous=FULL every COMMIT waits for an fsync, and one
store thread runs all writes, so a store that commits each write on its own
is capped at the disk's fsync rate (about 300 commits per second on the
machine recorded in docs/benchmarks.md). Here the writes that queued while
one batch was committing run as the next batch: each in a SAVEPOINT inside
one IMMEDIATE transaction, so a write that raises rolls back alone. A caller
learns its outcome only after the COMMIT that made its write durable.
"""

import asyncio
import sqlite3
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

# Largest number of writes in one transaction, so that one batch holds the
# write lock for a bounded time.
MAX_BATCH = 256


class GroupCommitter:
    """Runs write functions on the store thread, many per COMMIT."""

    def __init__(
        self,
        executor: Executor,
        connection: Callable[[], sqlite3.Connection | None],
    ) -> None:
        """`executor` must run one job at a time (the store's only thread)."""
        self._executor = executor
        self._connection = connection
        self._pending: deque = deque()

    async def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `fn(db)` in a transaction; return its value once committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((fn, future, loop))
        # Every write schedules a drain; a drain that finds its write already
        # taken by an earlier batch does nothing.
        loop.run_in_executor(self._executor, self._drain)
        return await future

    def _drain(self) -> None:
        jobs = []
        while self._pending and len(jobs) < MAX_BATCH:
            jobs.append(self._pending.popleft())
        if not jobs:
            return
        try:
            outcomes = self._commit([fn for fn, _, _ in jobs])
        except Exception as error:
            outcomes = [(None, error)] * len(jobs)
        for (_, future, loop), (value, error) in zip(jobs, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, future, value, error)

    def _commit(self, functions: list) -> list[tuple[Any, Exception | None]]:
        db = self._connection()
        assert db is not None, "store is closed"
        outcomes = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for fn in functions:
                db.execute("SAVEPOINT write")
                try:
                    value = fn(db)
                except Exception as error:
                    db.execute("ROLLBACK TO write")
                    db.execute("RELEASE write")
                    outcomes.append((None, error))
                else:
                    db.execute("RELEASE write")
                    outcomes.append((value, None))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return outcomes


def _settle(future: asyncio.Future, value: Any, error: Exception | None) -> None:
    if future.done():  # the caller was cancelled; its write still happened
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
