"""Group commit of the SQLite store: batching, isolation of failures, durability."""

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ris_server.store.group_commit import GroupCommitter


@pytest.fixture
def database(tmp_path):
    executor = ThreadPoolExecutor(max_workers=1)
    db = sqlite3.connect(
        tmp_path / "group.db", isolation_level=None, check_same_thread=False
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    commits: list[str] = []
    db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    holder = {"db": db}
    yield holder, executor, commits, tmp_path / "group.db"
    executor.shutdown(wait=True)
    if holder["db"] is not None:
        holder["db"].close()


def insert(name: str):
    return lambda db: (
        db.execute("INSERT INTO items (name) VALUES (?)", (name,)).lastrowid
    )


async def test_concurrent_writes_share_commits(database):
    holder, executor, commits, path = database
    group = GroupCommitter(executor, lambda: holder["db"])
    ids = await asyncio.gather(*(group.write(insert(f"n{i}")) for i in range(200)))
    assert len(set(ids)) == 200
    assert len(commits) < 200
    with sqlite3.connect(path) as reader:
        assert reader.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 200


async def test_failed_write_rolls_back_alone(database):
    holder, executor, _, path = database
    group = GroupCommitter(executor, lambda: holder["db"])

    def insert_then_fail(db):
        db.execute("INSERT INTO items (name) VALUES ('partial')")
        raise ValueError("invalid item")

    results = await asyncio.gather(
        group.write(insert("a")),
        group.write(insert_then_fail),
        group.write(insert("a")),  # violates UNIQUE
        group.write(insert("b")),
        return_exceptions=True,
    )
    assert isinstance(results[0], int)
    assert isinstance(results[1], ValueError)
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert isinstance(results[3], int)
    with sqlite3.connect(path) as reader:
        names = {row[0] for row in reader.execute("SELECT name FROM items")}
    assert names == {"a", "b"}


async def test_write_visible_after_it_returns(database):
    holder, executor, _, path = database
    group = GroupCommitter(executor, lambda: holder["db"])
    await group.write(insert("durable"))
    # A second connection reads the row, so the COMMIT ran before write() returned.
    with sqlite3.connect(path) as reader:
        assert reader.execute("SELECT name FROM items").fetchall() == [("durable",)]


async def test_closed_store_raises(database):
    holder, executor, _, _ = database
    holder["db"].close()
    holder["db"] = None
    group = GroupCommitter(executor, lambda: holder["db"])
    with pytest.raises(AssertionError, match="store is closed"):
        await group.write(insert("x"))


async def test_cancelled_caller_write_still_commits(database):
    holder, executor, _, path = database
    group = GroupCommitter(executor, lambda: holder["db"])
    # The store thread is busy, so the write waits in the queue when cancelled.
    blocker = asyncio.get_running_loop().run_in_executor(executor, time.sleep, 0.2)
    pending = asyncio.create_task(group.write(insert("kept")))
    await asyncio.sleep(0.05)
    pending.cancel()
    await blocker
    await group.write(insert("after"))
    with sqlite3.connect(path) as reader:
        names = {row[0] for row in reader.execute("SELECT name FROM items")}
    assert names == {"kept", "after"}
