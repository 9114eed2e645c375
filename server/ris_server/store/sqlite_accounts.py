"""Tenants, users, refresh tokens and sessions of the SQLite store.

A mixin of SqliteStore, which provides the connection helpers `_read`,
`_write` and the field cipher.
"""

import functools
import json
import logging
import sqlite3
import uuid

from ris_server.errors import AlreadyExists
from ris_server.models import (
    RefreshToken,
    Session,
    Tenant,
    User,
)
from ris_server.store.sqlite_rows import _user

log = logging.getLogger(__name__)


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


class AccountsMixin:
    """Tenant, user, refresh-token and session methods of SqliteStore."""

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
        self, user_id: str, now: float, reason: str, keep: str = ""
    ) -> list[str]:
        def revoke(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT id FROM sessions "
                "WHERE user_id = ? AND revoked_at IS NULL AND id != ?",
                (user_id, keep),
            ).fetchall()
            for (session_id,) in rows:
                _revoke_session(db, session_id, now, reason)
            db.execute(
                "UPDATE refresh_tokens SET revoked_at = ? "
                "WHERE user_id = ? AND revoked_at IS NULL AND family_id != ?",
                (now, user_id, keep),
            )
            return [row[0] for row in rows]

        return await self._write(revoke)

    async def revoked_sessions(self, since: float) -> list[tuple[str, float]]:
        rows = await self._read(
            "SELECT id, revoked_at FROM sessions WHERE revoked_at >= ?", (since,)
        )
        return [(row[0], row[1]) for row in rows]
