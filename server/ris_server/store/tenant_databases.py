"""Database per tenant: each tenant's clients and tasks in a SQLite file of their own.

TenantDatabases implements the Repository protocol over several SqliteStore
instances. The control database (DATA/ris.db, or database.sqlite_path) contains
tenants, users, refresh tokens, sessions, enrollment tokens and
certificates. Each tenant's clients and tasks live in DATA/tenants/<code>.db.
Every file has the full schema, and the tables a file does not use stay
empty.

Each database stores the data keys of the rows it holds: tenant settings are
encrypted under keys in the control database, task payloads under keys in
the tenant's database. A tenant file together with the master key can
therefore be decrypted on its own.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from ris_server.config import ConfigError
from ris_server.errors import NotFound
from ris_server.keyring import DataKeyRecord, Keyring, KeyringError
from ris_server.models import Client, Task, Tenant
from ris_server.store.base import Repository, TaskOutcome
from ris_server.store.sqlite import SqliteStore
from ris_server.store.tenant_routes import ROUTES, Route, check_routes
from ris_server.validation import check_tenant_code

log = logging.getLogger(__name__)

# Number of task ids whose tenant is cached. A task missing from the cache is
# looked up in every tenant database.
TASK_CACHE_SIZE = 10_000


def tenant_database_path(tenants_dir: Path, code: str) -> Path:
    """Return the database file of a tenant, or raise InvalidArgument for a bad code."""
    return tenants_dir / f"{check_tenant_code(code, 'tenant code')}.db"


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


class TenantDatabases:
    """Repository that routes each call to the control or a tenant database."""

    def __init__(self, control: SqliteStore, tenants_dir: Path) -> None:
        self.path = control.path
        self.tenants_dir = tenants_dir
        self._control = control
        self._tenants: dict[str, SqliteStore] = {}
        self._client_tenant: dict[str, str] = {}
        self._task_tenant: OrderedDict[str, str] = OrderedDict()
        self._key_store: dict[str, SqliteStore] = {}
        self._keyring: Keyring | None = None
        self._encrypt = False
        self._insert_lock = asyncio.Lock()
        self._tenant_lock = asyncio.Lock()

    @classmethod
    async def open(cls, control_path: Path, tenants_dir: Path) -> "TenantDatabases":
        """Open the control database and the database of every tenant in it."""
        check_routes()
        router = cls(await SqliteStore.open(control_path), tenants_dir)
        try:
            await router._check_control_has_no_tenant_rows()
            for code in await router._control.tenant_codes():
                router._tenants[code] = await router._open_tenant(code, new=False)
            for code, store in router._tenants.items():
                for uid in await store.client_uids():
                    router._client_tenant[uid] = code
            router._warn_unknown_files()
            await router.list_data_keys()
        except BaseException:
            await router.close()
            raise
        log.info(
            "opened %d tenant databases in %s with %d clients",
            len(router._tenants),
            tenants_dir,
            len(router._client_tenant),
        )
        return router

    async def _check_control_has_no_tenant_rows(self) -> None:
        clients = len(await self._control.client_uids())
        tasks = await self._control.count_tasks()
        if clients or tasks:
            raise ConfigError(
                f"multi_tenant.tenant_isolation = 'database': {self.path} contains "
                f"{clients} clients and {tasks} tasks written in 'shared' mode, and "
                "they are not moved into tenant databases; set tenant_isolation "
                "to 'shared' to keep using them"
            )

    async def _open_tenant(self, code: str, *, new: bool) -> SqliteStore:
        path = tenant_database_path(self.tenants_dir, code)
        if new and path.exists():
            log.warning("tenant %s takes over the existing database %s", code, path)
        elif not new and not path.exists():
            log.warning("database %s of tenant %s was missing; created it", path, code)
        self.tenants_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = await SqliteStore.open(path)
        if self._keyring is not None:
            store.use_keyring(self._keyring.with_records(()), encrypt=self._encrypt)
        return store

    def _warn_unknown_files(self) -> None:
        if not self.tenants_dir.is_dir():
            return
        for path in sorted(self.tenants_dir.glob("*.db")):
            if path.stem not in self._tenants:
                log.warning("database %s belongs to no tenant; it is not used", path)

    def _stores(self) -> list[SqliteStore]:
        return [self._control, *self._tenants.values()]

    def _tenant_stores(self) -> list[SqliteStore]:
        return list(self._tenants.values())

    def _require_tenant(self, code: str) -> SqliteStore:
        store = self._tenants.get(code)
        if store is None:
            raise NotFound(f"tenant {code[:80]!r} not found")
        return store

    def _client_stores(self, uid: str) -> list[SqliteStore]:
        """Return the database of a client, or every tenant database when unknown.

        A deleted client is no longer mapped, but its tasks stay in its
        tenant's database until they are cancelled.
        """
        code = self._client_tenant.get(uid)
        store = self._tenants.get(code) if code is not None else None
        return [store] if store is not None else self._tenant_stores()

    def _remember_tasks(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            self._task_tenant[task.task_id] = task.tenant_code
            self._task_tenant.move_to_end(task.task_id)
        while len(self._task_tenant) > TASK_CACHE_SIZE:
            self._task_tenant.popitem(last=False)

    async def _task_store(self, task_id: str) -> SqliteStore | None:
        code = self._task_tenant.get(task_id)
        if code is not None and code in self._tenants:
            self._task_tenant.move_to_end(task_id)
            return self._tenants[code]
        for code, store in list(self._tenants.items()):
            if await store.has_task(task_id):
                self._task_tenant[task_id] = code
                return store
        return None

    async def _gather(self, stores: list[SqliteStore], method: str, *args) -> list:
        return await asyncio.gather(*(getattr(s, method)(*args) for s in stores))

    async def close(self) -> None:
        for store in self._stores():
            await store.close()

    async def ping(self) -> None:
        await self._gather(self._stores(), "ping")

    async def checkpoint(self) -> None:
        await self._gather(self._stores(), "checkpoint")

    # Encryption at rest: every database keeps the data keys of its own rows.
    def use_keyring(self, keyring: Keyring | None, *, encrypt: bool) -> None:
        """Give each database a keyring holding only the data keys it stores."""
        self._keyring, self._encrypt = keyring, encrypt
        for store in self._stores():
            scoped = None
            if keyring is not None:
                # Keys a database created since the last listing are in its
                # current keyring but not yet in _key_store.
                loaded = store.keyring.records() if store.keyring else []
                own = {r.key_id for r in loaded}
                own |= {k for k, owner in self._key_store.items() if owner is store}
                scoped = keyring.with_records(
                    r for r in keyring.records() if r.key_id in own
                )
            store.use_keyring(scoped, encrypt=encrypt)

    @property
    def keyring(self) -> Keyring | None:
        """Return a keyring with the data keys every database has loaded."""
        if self._keyring is None:
            return None
        loaded = (s.keyring.records() for s in self._stores() if s.keyring)
        return self._keyring.with_records(r for records in loaded for r in records)

    async def list_data_keys(self) -> list[DataKeyRecord]:
        records = []
        for store in self._stores():
            for record in await store.list_data_keys():
                self._key_store[record.key_id] = store
                records.append(record)
        return sorted(records, key=lambda record: record.created_at)

    async def save_data_key(self, record: DataKeyRecord) -> None:
        await self._control.save_data_key(record)
        self._key_store[record.key_id] = self._control

    async def replace_wrapped_keys(self, records: list[DataKeyRecord]) -> None:
        """Write each rewrapped key to the database that stores it.

        Every stored key must be given, or nothing is written. When a write
        fails, the databases written before it get their old keys back.
        """
        old = {record.key_id: record for record in await self.list_data_keys()}
        given = {record.key_id for record in records}
        if given != old.keys():
            missing = sorted(old.keys() - given)
            raise KeyringError(
                f"master key rotation must rewrap every data key; {len(missing)} "
                f"stored keys were not rewrapped (first: {missing[:1]}), and "
                f"{len(given - old.keys())} given keys are not stored, so nothing "
                "was changed"
            )
        groups: dict[int, tuple[SqliteStore, list[DataKeyRecord]]] = {}
        for record in records:
            store = self._key_store[record.key_id]
            groups.setdefault(id(store), (store, []))[1].append(record)
        written: list[tuple[SqliteStore, list[DataKeyRecord]]] = []
        # Each database commits on its own. After a crash between two
        # commits, the next start finds master.key.new and rewraps the keys
        # still under the old master key (bootstrap.open_keyring).
        try:
            for store, group in groups.values():
                await store.replace_wrapped_keys(group)
                written.append((store, group))
        except BaseException:
            for store, group in written:
                await store.replace_wrapped_keys([old[r.key_id] for r in group])
            raise

    async def reencrypt(
        self, *, new_keys: bool = False, batch_size: int = 200
    ) -> dict[str, int]:
        """Rewrite tenant rows in the control database, task rows in the tenants'."""
        counts = await self._control.reencrypt(new_keys=new_keys, batch_size=batch_size)
        for store in self._tenant_stores():
            part = await store.reencrypt(new_keys=new_keys, batch_size=batch_size)
            counts["tasks"] += part["tasks"]
            counts["tenants"] += part["tenants"]
        await self.list_data_keys()
        return counts

    # Tenants: the row in the control database, the data in the tenant's file.
    async def create_tenant(self, tenant: Tenant) -> None:
        """Create the tenant's database, then its row.

        When the row cannot be written, a database file this call created is
        removed again.
        """
        async with self._tenant_lock:
            if tenant.code in self._tenants:
                await self._control.create_tenant(tenant)  # raises AlreadyExists
                return
            path = tenant_database_path(self.tenants_dir, tenant.code)
            existed = path.exists()
            store = await self._open_tenant(tenant.code, new=True)
            try:
                await self._control.create_tenant(tenant)
            except BaseException:
                await store.close()
                if not existed:
                    _remove_database(path)
                raise
            self._tenants[tenant.code] = store
            log.info("created database %s for tenant %s", path, tenant.code)

    # Clients.
    async def create_client(self, client: Client) -> Client:
        created = await self._require_tenant(client.tenant_code).create_client(client)
        self._client_tenant[created.unique_client_id] = created.tenant_code
        return created

    async def get_client(self, tenant_code: str, client_id: int) -> Client | None:
        store = self._tenants.get(tenant_code)
        return await store.get_client(tenant_code, client_id) if store else None

    async def get_client_by_uid(
        self, tenant_code: str, unique_client_id: str
    ) -> Client | None:
        store = self._tenants.get(tenant_code)
        if store is None:
            return None
        return await store.get_client_by_uid(tenant_code, unique_client_id)

    async def list_clients(
        self,
        tenant_code: str,
        offset: int,
        limit: int,
        status: int = 0,
        connected: bool | None = None,
    ) -> tuple[list[Client], int]:
        store = self._tenants.get(tenant_code)
        if store is None:
            return [], 0
        return await store.list_clients(tenant_code, offset, limit, status, connected)

    async def count_clients(self, tenant_code: str | None = None) -> int:
        if tenant_code is None:
            return sum(await self._gather(self._tenant_stores(), "count_clients"))
        store = self._tenants.get(tenant_code)
        return await store.count_clients(tenant_code) if store else 0

    async def last_heartbeat(self) -> float | None:
        times = await self._gather(self._tenant_stores(), "last_heartbeat")
        return max((t for t in times if t is not None), default=None)

    async def update_client(self, client: Client) -> None:
        store = self._tenants.get(client.tenant_code)
        if store is not None:
            await store.update_client(client)

    async def delete_client(self, tenant_code: str, client_id: int) -> None:
        store = self._tenants.get(tenant_code)
        if store is None:
            raise NotFound(f"client {client_id} not found")
        client = await store.get_client(tenant_code, client_id)
        await store.delete_client(tenant_code, client_id)
        if client is not None:
            self._client_tenant.pop(client.unique_client_id, None)

    async def record_connection(self, unique_client_id: str, **fields) -> None:
        for store in self._client_stores(unique_client_id):
            await store.record_connection(unique_client_id, **fields)

    async def record_heartbeat(
        self, unique_client_id: str, now: float, resource_usage: dict
    ) -> None:
        for store in self._client_stores(unique_client_id):
            await store.record_heartbeat(unique_client_id, now, resource_usage)

    async def mark_all_disconnected(self) -> None:
        await self._gather(self._stores(), "mark_all_disconnected")

    # Tasks.
    async def insert_task(self, task: Task, max_active: int) -> bool:
        """Store a task in its tenant's database unless the hub has `max_active`."""
        store = self._require_tenant(task.tenant_code)
        # The lock keeps the hub-wide count from changing between the sum
        # and the insert; claims and results only lower it.
        async with self._insert_lock:
            if await self.count_active_tasks() >= max_active:
                return False
            if not await store.insert_task(task, max_active):
                return False
        self._remember_tasks([task])
        return True

    async def get_task(self, tenant_code: str, task_id: str) -> Task | None:
        store = self._tenants.get(tenant_code)
        task = await store.get_task(tenant_code, task_id) if store else None
        if task is not None:
            self._remember_tasks([task])
        return task

    async def get_task_any_tenant(self, task_id: str) -> Task | None:
        store = await self._task_store(task_id)
        return await store.get_task_any_tenant(task_id) if store else None

    async def list_tasks(self, tenant_code: str, **filters) -> list[Task]:
        store = self._tenants.get(tenant_code)
        tasks = await store.list_tasks(tenant_code, **filters) if store else []
        self._remember_tasks(tasks)
        return tasks

    async def claim_tasks(
        self, client_uid: str, count: int, now: float, aging_interval: float = 0.0
    ) -> list[Task]:
        claimed: list[Task] = []
        for store in self._client_stores(client_uid):
            if len(claimed) >= count:
                break
            claimed += await store.claim_tasks(
                client_uid, count - len(claimed), now, aging_interval
            )
        self._remember_tasks(claimed)
        return claimed

    async def running_tasks(self, client_uid: str) -> list[Task]:
        stores = self._client_stores(client_uid)
        tasks = [
            t
            for part in await self._gather(stores, "running_tasks", client_uid)
            for t in part
        ]
        self._remember_tasks(tasks)
        return tasks

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
        store = await self._task_store(task_id)
        if store is None:
            return TaskOutcome.UNKNOWN
        return await store.finish_task(
            task_id, attempt, status, result, error, now, dead_lettered
        )

    async def requeue_task(
        self, task_id: str, attempt: int, available_at: float = 0.0
    ) -> bool:
        store = await self._task_store(task_id)
        if store is None:
            return False
        return await store.requeue_task(task_id, attempt, available_at)

    async def set_progress(self, task_id: str, attempt: int, progress: bytes) -> None:
        store = await self._task_store(task_id)
        if store is not None:
            await store.set_progress(task_id, attempt, progress)

    async def _merged_tasks(self, method: str, *args) -> list[Task]:
        parts = await self._gather(self._tenant_stores(), method, *args)
        tasks = [task for part in parts for task in part]
        self._remember_tasks(tasks)
        return tasks

    async def expired_queued_tasks(self, now: float, max_wait: float) -> list[Task]:
        return await self._merged_tasks("expired_queued_tasks", now, max_wait)

    async def expired_running_tasks(self, now: float, grace: float) -> list[Task]:
        return await self._merged_tasks("expired_running_tasks", now, grace)

    async def clients_with_queued_tasks(self, now: float) -> list[str]:
        parts = await self._gather(
            self._tenant_stores(), "clients_with_queued_tasks", now
        )
        return [uid for part in parts for uid in part]

    async def request_cancel(self, tenant_code: str, task_id: str, now: float) -> Task:
        store = self._tenants.get(tenant_code)
        if store is None:
            raise NotFound(f"task {task_id} not found")
        return await store.request_cancel(tenant_code, task_id, now)

    async def cancel_client_tasks(
        self, client_uid: str, reason: str, now: float
    ) -> list[str]:
        stores = self._client_stores(client_uid)
        parts = await self._gather(
            stores, "cancel_client_tasks", client_uid, reason, now
        )
        return [task_id for part in parts for task_id in part]

    async def redrive_task(self, tenant_code: str, task_id: str) -> Task:
        store = self._tenants.get(tenant_code)
        if store is None:
            raise NotFound(f"task {task_id} not found")
        return await store.redrive_task(tenant_code, task_id)

    async def task_counts(self, since: float) -> dict[str, int]:
        totals: dict[str, int] = {}
        for part in await self._gather(self._tenant_stores(), "task_counts", since):
            for status, count in part.items():
                totals[status] = totals.get(status, 0) + count
        return totals

    async def count_active_tasks(self, tenant_code: str | None = None) -> int:
        if tenant_code is None:
            return sum(await self._gather(self._tenant_stores(), "count_active_tasks"))
        store = self._tenants.get(tenant_code)
        return await store.count_active_tasks(tenant_code) if store else 0

    async def tenant_storage_bytes(self, tenant_code: str) -> int:
        store = self._tenants.get(tenant_code)
        return await store.tenant_storage_bytes(tenant_code) if store else 0

    async def delete_finished_tasks(self, before: float, limit: int) -> int:
        deleted = 0
        for store in self._tenant_stores():
            if deleted >= limit:
                break
            deleted += await store.delete_finished_tasks(before, limit - deleted)
        return deleted


def _forward_to_control(name: str):
    async def forward(self: TenantDatabases, *args, **kwargs):
        return await getattr(self._control, name)(*args, **kwargs)

    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = getattr(Repository, name).__doc__
    return forward


for _name, _route in ROUTES.items():
    if _route is Route.CONTROL and _name not in vars(TenantDatabases):
        setattr(TenantDatabases, _name, _forward_to_control(_name))

_unimplemented = sorted(n for n in ROUTES if n not in vars(TenantDatabases))
if _unimplemented:
    raise TypeError(f"TenantDatabases does not implement {_unimplemented}")
