"""Starting and ending login sessions: the store, the revoked set, the audit.

Every revocation is written to the store first and then added to the token
service's in-memory set, so the session's access tokens stop working at
once and stay rejected after a restart (see `sessions.py`).
"""

import logging
import time
import uuid

from ris_server.audit import AuditLog
from ris_server.models import Session
from ris_server.store.base import Repository
from ris_server.tokens import TokenService

log = logging.getLogger(__name__)


async def load_revocations(
    store: Repository, tokens: TokenService, now: float | None = None
) -> int:
    """Fill the token service's revoked set from the store at start.

    Returns the number of sessions listed.
    """
    now = time.time() if now is None else now
    revocations = tokens.revocations
    revoked = await store.revoked_sessions(revocations.oldest_needed(now))
    listed = revocations.load(revoked, now)
    log.info("loaded %d revoked sessions", listed)
    return listed


class SessionManager:
    """Session operations shared by the auth service and user management."""

    def __init__(
        self,
        store: Repository,
        tokens: TokenService,
        audit: AuditLog,
        max_concurrent: int,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._audit = audit
        self.max_concurrent = max_concurrent

    async def start(self, user_id: str, tenant_code: str, now: float) -> str:
        """Record a new session and return its id.

        When the user would then have more than `max_concurrent` active
        sessions, the oldest are revoked and audited.
        """
        session = Session(
            id=uuid.uuid4().hex,
            user_id=user_id,
            tenant_code=tenant_code,
            created_at=now,
            expires_at=now + self._tokens.refresh_ttl,
        )
        revoked = await self._store.create_session(session, self.max_concurrent)
        for old in revoked:
            self._tokens.revocations.add(old.id, now, now)
            self._audit_revoked(old.id, "max_concurrent", user_id, tenant_code)
            log.info(
                "revoked session %s of user %s: more than %d sessions",
                old.id,
                user_id,
                self.max_concurrent,
            )
        return session.id

    async def revoke(
        self, session_id: str, reason: str, *, actor: str, tenant: str
    ) -> bool:
        """Revoke one session; return False when it had ended already."""
        now = time.time()
        revoked = await self._store.revoke_session(session_id, now, reason)
        self._tokens.revocations.add(session_id, now, now)
        if revoked:
            self._audit_revoked(session_id, reason, actor, tenant)
        return revoked

    def _audit_revoked(
        self, session_id: str, reason: str, actor: str, tenant: str
    ) -> None:
        self._audit.record(
            "authentication",
            "session_revoked",
            actor=actor,
            tenant=tenant,
            target=session_id,
            reason=reason,
        )

    async def revoke_user(
        self, user_id: str, reason: str, *, actor: str, tenant: str, keep: str = ""
    ) -> list[str]:
        """Revoke every session of a user but `keep`, for example when it is
        disabled or changes its password."""
        now = time.time()
        revoked = await self._store.revoke_user_sessions(user_id, now, reason, keep)
        for session_id in revoked:
            self._tokens.revocations.add(session_id, now, now)
            self._audit_revoked(session_id, reason, actor, tenant)
        if revoked:
            log.info(
                "revoked %d sessions of user %s: %s", len(revoked), user_id, reason
            )
        return revoked
