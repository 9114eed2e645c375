"""Clients, enrollment tokens and certificates of the SQLite store.

A mixin of SqliteStore, which provides the connection helpers `_read` and
`_write`.
"""

import json
import logging
import sqlite3
from typing import Any

from ris_server.errors import AlreadyExists, NotFound
from ris_server.models import (
    CertificateRecord,
    Client,
    EnrollmentToken,
)
from ris_server.store.sqlite_rows import (
    _CERTIFICATE_COLUMNS,
    _CLIENT_COLUMNS,
    _client,
)

log = logging.getLogger(__name__)


def _live_certificate(db: sqlite3.Connection, serial: str) -> tuple | None:
    """Return (client_uid, tenant_code, replaces) of an unrevoked certificate."""
    return db.execute(
        "SELECT client_uid, tenant_code, replaces FROM certificates "
        "WHERE serial = ? AND revoked_at IS NULL",
        (serial,),
    ).fetchone()


def _revoke_serials(
    db: sqlite3.Connection, serials: list[str], now: float, reason: str
) -> None:
    db.executemany(
        "UPDATE certificates SET revoked_at = ?, revocation_reason = ? "
        "WHERE serial = ?",
        [(now, reason, item) for item in serials],
    )


def _retire_replaced(
    db: sqlite3.Connection, serial: str, row: tuple, now: float, reason: str
) -> list[str]:
    """Revoke the certificate `serial` renewed and that one's other renewals.

    `row` is the `_live_certificate` row of `serial`. Returns the serials
    revoked now; a certificate from enrollment retires nothing.
    """
    client_uid, _, replaces = row
    if not replaces:
        return []
    serials = [
        item
        for (item,) in db.execute(
            "SELECT serial FROM certificates WHERE client_uid = ? "
            "AND revoked_at IS NULL AND serial != ? "
            "AND (serial = ? OR replaces = ?)",
            (client_uid, serial, replaces, replaces),
        )
    ]
    _revoke_serials(db, serials, now, reason)
    return serials


class ClientsMixin:
    """Client, enrollment-token and certificate methods of SqliteStore."""

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

    async def record_renewal(
        self,
        serial: str,
        not_after: float,
        issued_at: float,
        replaces: str,
        retire_reason: str,
        supersede_reason: str,
    ) -> list[tuple[str, str]] | None:
        def renew(db: sqlite3.Connection) -> list[tuple[str, str]] | None:
            row = _live_certificate(db, replaces)
            if row is None:
                return None
            retired = _retire_replaced(db, replaces, row, issued_at, retire_reason)
            unused = [
                item
                for (item,) in db.execute(
                    "SELECT serial FROM certificates WHERE client_uid = ? "
                    "AND replaces = ? AND revoked_at IS NULL "
                    "AND first_used_at IS NULL",
                    (row[0], replaces),
                )
            ]
            _revoke_serials(db, unused, issued_at, supersede_reason)
            db.execute(
                f"INSERT INTO certificates ({_CERTIFICATE_COLUMNS}) "
                "VALUES (?,?,?,?,NULL,?,NULL,?,'')",
                (serial, row[0], row[1], not_after, issued_at, replaces),
            )
            return [(item, retire_reason) for item in retired] + [
                (item, supersede_reason) for item in unused
            ]

        return await self._write(renew)

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

    async def mark_certificate_used(
        self, serial: str, now: float, reason: str = ""
    ) -> list[str] | None:
        def use(db: sqlite3.Connection) -> list[str] | None:
            row = _live_certificate(db, serial)
            if row is None:
                return None
            db.execute(
                "UPDATE certificates SET first_used_at = ? "
                "WHERE serial = ? AND first_used_at IS NULL",
                (now, serial),
            )
            return _retire_replaced(db, serial, row, now, reason)

        return await self._write(use)
