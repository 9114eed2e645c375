"""Encrypted columns of the SQLite store and the table of wrapped data keys.

Encrypted: the whole serialized payload of a task (`tasks.spec`), with its
headers, URL, auth fields and environment. Also encrypted: every string of a
tenant's `settings` and `database_info` whose key names a credential, by the
rule that redacts listings (`convert.is_secret_name`). Callers of the store
see plaintext either way.

With encryption off, values are written plain, and envelopes written while
it was on are still decrypted on read.
"""

import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ris_server.convert import is_secret_name
from ris_server.keyring import (
    DataKeyRecord,
    Keyring,
    KeyringError,
    Place,
    UnknownDataKey,
    decode_text_envelope,
    envelope_key_id,
    is_envelope,
)

log = logging.getLogger(__name__)

DATA_KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
  key_id TEXT PRIMARY KEY, tenant_code TEXT NOT NULL, wrapped BLOB NOT NULL,
  created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS data_keys_tenant ON data_keys (tenant_code, created_at);
"""

_KEY_COLUMNS = "key_id, tenant_code, wrapped, created_at"


def load_data_keys(db: sqlite3.Connection) -> list[DataKeyRecord]:
    rows = db.execute(
        f"SELECT {_KEY_COLUMNS} FROM data_keys ORDER BY created_at"
    ).fetchall()
    return [DataKeyRecord(*row) for row in rows]


def insert_data_key(db: sqlite3.Connection, record: DataKeyRecord) -> None:
    db.execute(
        f"INSERT INTO data_keys ({_KEY_COLUMNS}) VALUES (?,?,?,?)",
        (record.key_id, record.tenant_code, record.wrapped, record.created_at),
    )


def replace_wrapped_keys(db: sqlite3.Connection, records: list[DataKeyRecord]) -> None:
    """Store rewrapped data keys; every stored key must be among them."""
    stored = {row[0] for row in db.execute("SELECT key_id FROM data_keys")}
    given = {record.key_id for record in records}
    if stored != given:
        missing = sorted(stored - given)
        raise KeyringError(
            f"master key rotation must rewrap every data key; {len(missing)} "
            f"stored keys were not rewrapped (first: {missing[:1]}), so nothing "
            "was changed"
        )
    for record in records:
        db.execute(
            "UPDATE data_keys SET wrapped = ? WHERE key_id = ?",
            (record.wrapped, record.key_id),
        )


def key_loader(path: Path) -> Callable[[str], DataKeyRecord | None]:
    """Return a lookup of one data key that reads the database on its own connection.

    A data key created by another process (`ris-keys reencrypt`) is found
    this way from any thread, inside or outside a store transaction.
    """

    def load(key_id: str) -> DataKeyRecord | None:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute(
                f"SELECT {_KEY_COLUMNS} FROM data_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        finally:
            db.close()
        return DataKeyRecord(*row) if row else None

    return load


def task_spec_place(task_id: str) -> Place:
    return Place("tasks", "spec", task_id)


def _dict_place(tenant_id: str, column: str, path: tuple[str, ...]) -> Place:
    return Place("tenants", ".".join((column, *path)), tenant_id)


class FieldCipher:
    """Encryption and decryption of the store's secret columns with a keyring.

    `keyring` is None when the store was opened without one; then values are
    written plain and an encrypted value read back raises KeyringError.
    """

    def __init__(
        self,
        keyring: Keyring | None,
        *,
        encrypt: bool,
        load_key: Callable[[str], DataKeyRecord | None] | None = None,
    ) -> None:
        if encrypt and keyring is None:
            raise KeyringError("encryption at rest needs a keyring")
        self.keyring = keyring
        self.encrypt = encrypt
        self._load_key = load_key

    def _decrypt(self, tenant_code: str, place: Place, blob: bytes) -> bytes:
        if self.keyring is None:
            raise KeyringError(
                f"{place} in tenant {tenant_code!r} is encrypted, but the store "
                "was opened without the master key"
            )
        try:
            return self.keyring.decrypt(tenant_code, place, blob)
        except UnknownDataKey:
            # Another process may have added the key since this one loaded.
            record = self._load_key(envelope_key_id(blob)) if self._load_key else None
            if record is None:
                raise
            self.keyring.add(record)
            log.info("loaded data key %s of tenant %s", record.key_id, tenant_code)
            return self.keyring.decrypt(tenant_code, place, blob)

    # Task payloads.
    def seal_spec(self, tenant_code: str, task_id: str, spec: bytes) -> bytes:
        if not self.encrypt:
            return spec
        return self.keyring.encrypt(tenant_code, task_spec_place(task_id), spec)

    def open_spec(self, tenant_code: str, task_id: str, spec: bytes) -> bytes:
        if not is_envelope(spec):
            return spec
        return self._decrypt(tenant_code, task_spec_place(task_id), spec)

    # Tenant settings and database settings.
    def seal_dict(
        self, tenant_code: str, tenant_id: str, column: str, value: dict
    ) -> dict:
        """Return a copy of `value` with credential-named strings encrypted."""
        if not self.encrypt:
            return value
        return self._walk(value, (), column, tenant_code, tenant_id, seal=True)

    def open_dict(
        self, tenant_code: str, tenant_id: str, column: str, value: dict
    ) -> dict:
        return self._walk(value, (), column, tenant_code, tenant_id, seal=False)

    def _walk(
        self,
        value: dict,
        path: tuple[str, ...],
        column: str,
        tenant_code: str,
        tenant_id: str,
        *,
        seal: bool,
    ) -> dict:
        result = {}
        for key, item in value.items():
            here = (*path, key)
            if isinstance(item, dict):
                item = self._walk(item, here, column, tenant_code, tenant_id, seal=seal)
            elif isinstance(item, str):
                place = _dict_place(tenant_id, column, here)
                if seal and is_secret_name(key):
                    item = self.keyring.encrypt_text(tenant_code, place, item)
                elif not seal and is_envelope(item):
                    item = self._open_text(tenant_code, place, item)
            result[key] = item
        return result

    def _open_text(self, tenant_code: str, place: Place, text: str) -> str:
        return self._decrypt(tenant_code, place, decode_text_envelope(text)).decode()

    def dumps_dict(
        self, tenant_code: str, tenant_id: str, column: str, value: dict
    ) -> str:
        return json.dumps(self.seal_dict(tenant_code, tenant_id, column, value))


def _reseal_spec(cipher: FieldCipher, tenant: str, task_id: str, spec: bytes) -> bytes:
    return cipher.seal_spec(tenant, task_id, cipher.open_spec(tenant, task_id, spec))


def reencrypt_task_batch(
    db: sqlite3.Connection, cipher: FieldCipher, after_seq: int, limit: int
) -> tuple[int | None, int]:
    """Rewrite up to `limit` task payloads after `after_seq` under the newest keys.

    Payloads already under their tenant's newest data key are left as they
    are. Returns the last seq read (None when no rows were left) and the
    number of rows rewritten.
    """
    keyring = cipher.keyring
    rows = db.execute(
        "SELECT seq, task_id, tenant_code, spec FROM tasks WHERE seq > ? "
        "ORDER BY seq LIMIT ?",
        (after_seq, limit),
    ).fetchall()
    rewritten = 0
    for _seq, task_id, tenant, spec in rows:
        newest = keyring.newest(tenant)
        if is_envelope(spec) and newest and envelope_key_id(spec) == newest.key_id:
            continue
        db.execute(
            "UPDATE tasks SET spec = ? WHERE task_id = ?",
            (_reseal_spec(cipher, tenant, task_id, spec), task_id),
        )
        rewritten += 1
    return (rows[-1][0] if rows else None), rewritten


def reencrypt_tenants(db: sqlite3.Connection, cipher: FieldCipher) -> int:
    """Rewrite the secret settings of every tenant under its newest data key."""
    rows = db.execute(
        "SELECT id, code, settings, database_info FROM tenants"
    ).fetchall()
    for tenant_id, code, settings, database_info in rows:
        columns = {"settings": settings, "database_info": database_info}
        resealed = {}
        for column, text in columns.items():
            plain = cipher.open_dict(code, tenant_id, column, json.loads(text))
            resealed[column] = cipher.dumps_dict(code, tenant_id, column, plain)
        db.execute(
            "UPDATE tenants SET settings = ?, database_info = ? WHERE id = ?",
            (resealed["settings"], resealed["database_info"], tenant_id),
        )
    return len(rows)
