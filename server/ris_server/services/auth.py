"""AuthService: password and directory login, refresh, logout.

Each login starts a session (see `session_manager.py`). Failed logins are
limited per (tenant, username, client address) and per (tenant, username)
before any password is checked (see `login_limits.py`). Login names are
compared without case.
"""

import logging
import math
import time

from ris.v1 import auth_pb2, auth_pb2_grpc, tenant_pb2
from ris_server.errors import (
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from ris_server.hub import Hub
from ris_server.interceptors import (
    current_client_address,
    current_principal,
    service_errors,
)
from ris_server.ldap_auth import LdapAuthenticator
from ris_server.login_limits import LoginAttempt, LoginLimits
from ris_server.login_roles import account_role, directory_role, effective_role
from ris_server.models import RefreshToken, Tenant, User
from ris_server.passwords import hash_password, verify_password
from ris_server.session_manager import SessionManager
from ris_server.tokens import Principal
from ris_server.validation import PASSWORD_MAX, check_login_name, check_password

log = logging.getLogger(__name__)

_BAD_LOGIN = "invalid username, password or tenant"
_SESSION_ENDED = "session ended; log in again"
MAX_USERNAME = 256


def _active(tenant: Tenant | None) -> bool:
    return tenant is not None and tenant.status == tenant_pb2.TENANT_STATUS_ACTIVE


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        config = hub.config
        self._sessions = SessionManager(
            hub.store,
            hub.tokens,
            hub.audit,
            config.authentication.session.max_concurrent,
        )
        self._limits = LoginLimits(
            config.security.rate_limiting.login_failures_per_minute
        )
        ldap = config.authentication.ldap
        self._ldap = LdapAuthenticator(ldap) if ldap.enabled else None
        self._ldap_tenant = ldap.tenant or config.multi_tenant.default_tenant

    async def _issue(self, principal: Principal) -> dict:
        tokens = self._hub.tokens
        refresh, claims = tokens.issue_refresh(principal, principal.session_id)
        await self._hub.store.save_refresh_token(
            RefreshToken(
                claims.jti,
                claims.family_id,
                claims.user_id,
                claims.tenant_code,
                claims.expires_at,
            )
        )
        await self._hub.store.extend_session(principal.session_id, claims.expires_at)
        return {
            "access_token": tokens.issue_access(principal),
            "refresh_token": refresh,
            "expires_in": int(tokens.access_ttl),
            "token_type": "Bearer",
            "user": auth_pb2.User(
                id=principal.user_id,
                email=principal.email,
                role=principal.role,
                tenant_code=principal.tenant_code,
            ),
        }

    @service_errors
    async def Login(self, request, context):
        username, password = request.username, request.password
        if not username:
            raise InvalidArgument("username is required")
        if len(username) > MAX_USERNAME:
            raise InvalidArgument(f"username is longer than {MAX_USERNAME} characters")
        if not password:
            raise InvalidArgument("password is required")
        if len(password) > PASSWORD_MAX:
            raise InvalidArgument(f"password is longer than {PASSWORD_MAX} characters")
        tenant_code = (
            request.tenant_code or self._hub.config.multi_tenant.default_tenant
        )
        user = await self._find_user(tenant_code, username)
        local = user is not None and not user.external
        directory = self._ldap is not None and request.tenant_code in (
            "",
            self._ldap_tenant,
        )
        if directory and not local:
            # Directory accounts are counted in their own tenant, however the
            # request names it.
            tenant_code = self._ldap_tenant
        attempt = LoginAttempt.of(
            tenant_code, username, current_client_address(), time.monotonic()
        )
        wait = self._limits.start_attempt(attempt)
        if wait is not None:
            self._reject_limited(tenant_code, username, wait)
        found = None
        try:
            if local or not directory:
                found = await self._password_login(user, tenant_code, password)
            if found is None and directory:
                # A failed local password is tried on the directory too, so
                # the reply does not tell whether a local account exists.
                found = await self._directory_login(username, password, local)
        except Unavailable:
            if local:
                # The local password was checked and failed, so it counts.
                self._record_failure(attempt, tenant_code, username)
            else:
                self._limits.cancel_attempt(attempt)
            self._hub.audit.record(
                "authentication",
                "login",
                tenant=tenant_code[:64],
                target=username[:128],
                outcome="failure",
                reason="directory_unavailable",
            )
            raise
        if found is None:
            self._record_failure(attempt, tenant_code, username)
            raise Unauthenticated(_BAD_LOGIN)
        self._limits.finish_success(attempt)
        user, tenant, method = found
        now = time.time()
        role = self._role_of(user)
        session_id = await self._sessions.start(user.id, tenant.code, now)
        principal = Principal(user.id, user.email, role, tenant.code, session_id)
        self._hub.audit.record(
            "authentication",
            "login",
            actor=user.id,
            tenant=tenant.code,
            target=session_id,
            method=method,
        )
        log.info(
            "user %s logged in to tenant %s (%s, session %s)",
            user.id,
            tenant.code,
            method,
            session_id,
        )
        return auth_pb2.LoginResponse(**await self._issue(principal))

    def _reject_limited(self, tenant_code: str, username: str, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        self._hub.audit.record(
            "authentication",
            "login_rate_limited",
            tenant=tenant_code[:64],
            target=username[:128],
            outcome="failure",
            retry_after=seconds,
        )
        raise ResourceExhausted(
            f"too many failed logins; try again in {seconds} s", retry_after=seconds
        )

    def _role_of(self, user: User) -> int:
        config = self._hub.config
        return account_role(
            user.role,
            user.email,
            user.tenant_code,
            user.external,
            config.authorization.rbac,
            config.multi_tenant.default_tenant,
        )

    async def _find_user(self, tenant_code: str, username: str) -> User | None:
        """Look a login name up as given, then case-folded.

        New accounts are stored folded; the exact lookup still finds an
        account stored with capitals before names were folded.
        """
        store = self._hub.store
        user = await store.get_user(tenant_code, username)
        folded = username.casefold()
        if user is None and folded != username:
            user = await store.get_user(tenant_code, folded)
        return user

    def _record_failure(
        self,
        attempt: LoginAttempt,
        tenant_code: str,
        username: str,
        action: str = "login",
    ) -> None:
        log.info("failed %s for tenant %s", action, tenant_code[:64])
        self._hub.audit.record(
            "authentication",
            action,
            tenant=tenant_code[:64],
            target=username[:128],
            outcome="failure",
        )
        by_address, by_name = self._limits.failures(attempt, time.monotonic())
        if by_address == self._limits.limit:
            log.warning(
                "login for a username in tenant %s blocked for one client "
                "address after %d failures within a minute",
                tenant_code[:64],
                by_address,
            )
        if by_name == self._limits.name_cap:
            log.warning(
                "login for a username in tenant %s blocked for all client "
                "addresses after %d failures within a minute",
                tenant_code[:64],
                by_name,
            )

    async def _password_login(
        self, user: User | None, tenant_code: str, password: str
    ) -> tuple[User, Tenant, str] | None:
        """Check a local password; return the user, its tenant and the method."""
        tenant = await self._hub.store.get_tenant(tenant_code)
        valid = verify_password(user.password_hash if user else None, password)
        if not valid or user is None or user.disabled or not _active(tenant):
            return None
        return user, tenant, "password"

    async def _directory_login(
        self, username: str, password: str, local: bool
    ) -> tuple[User, Tenant, str] | None:
        """Check a password with the directory.

        When `local` is true a local account has the name, so a password the
        directory accepts still fails, because local accounts win.
        """
        store = self._hub.store
        tenant = await store.get_tenant(self._ldap_tenant)
        if tenant is None:
            log.error(
                "directory login failed: authentication.ldap.tenant %r does not exist",
                self._ldap_tenant,
            )
            return None
        if not _active(tenant):
            return None
        try:
            check_login_name(username, "username")
        except InvalidArgument:
            return None

        found = await self._ldap.authenticate(username, password)
        if found is None:
            return None
        if local:
            log.warning(
                "directory login of %r rejected: a local user has that name",
                username.casefold(),
            )
            return None

        config = self._hub.config
        role = directory_role(
            found.group_dns,
            config.authentication.ldap.group_roles,
            config.authorization.rbac.default_role,
        )
        role = effective_role(role, [username, found.email], config.authorization.rbac)

        user = await store.upsert_directory_user(
            tenant.code, username.casefold(), role, time.time()
        )
        if user is None:
            log.warning(
                "directory login of %r rejected: a local user of tenant %s has "
                "that name",
                username.casefold(),
                tenant.code,
            )
            return None
        if user.disabled:
            return None
        return user, tenant, "ldap"

    @service_errors
    async def Refresh(self, request, context):
        if not request.refresh_token:
            raise InvalidArgument("refresh_token is required")
        tokens = self._hub.tokens
        claims = tokens.verify_refresh(request.refresh_token)
        store = self._hub.store
        now = time.time()
        record = await store.use_refresh_token(claims.jti, now)
        if record is None or record.revoked_at is not None:
            raise Unauthenticated("refresh token revoked")
        session_id = record.family_id
        if record.used_at is not None:
            await self._sessions.revoke(
                session_id,
                "refresh_token_reuse",
                actor=record.user_id,
                tenant=record.tenant_code,
            )
            self._hub.audit.record(
                "authentication",
                "refresh_token_reuse",
                actor=record.user_id,
                tenant=record.tenant_code,
                target=session_id,
                outcome="failure",
            )
            log.warning(
                "refresh token reuse for user %s; revoked session %s",
                record.user_id,
                session_id,
            )
            raise Unauthenticated("refresh token already used; log in again")
        session = await store.get_session(session_id)
        if session is None or session.revoked_at is not None:
            raise Unauthenticated(_SESSION_ENDED)
        user = await store.get_user_by_id(record.user_id)
        if user is None or user.disabled:
            raise Unauthenticated("user no longer exists or is disabled")
        role = self._role_of(user)
        principal = Principal(user.id, user.email, role, user.tenant_code, session_id)
        issued = await self._issue(principal)
        # A logout that committed while the tokens were issued has listed the
        # session by now; the new tokens must not leave the hub.
        if tokens.revocations.is_revoked(session_id, time.time()):
            raise Unauthenticated(_SESSION_ENDED)
        return auth_pb2.RefreshResponse(**issued)

    @service_errors
    async def Logout(self, request, context):
        if not request.refresh_token:
            raise InvalidArgument("refresh_token is required")
        claims = self._hub.tokens.verify_refresh(request.refresh_token)
        revoked = await self._sessions.revoke(
            claims.family_id,
            "logout",
            actor=claims.user_id,
            tenant=claims.tenant_code,
        )
        log.info("user %s logged out of session %s", claims.user_id, claims.family_id)
        return auth_pb2.LogoutResponse(revoked=revoked)

    @service_errors
    async def ChangePassword(self, request, context):
        principal = current_principal()
        current, new = request.current_password, request.new_password
        if not current:
            raise InvalidArgument("current_password is required")
        if len(current) > PASSWORD_MAX:
            raise InvalidArgument(
                f"current_password is longer than {PASSWORD_MAX} characters"
            )
        if not new:
            raise InvalidArgument("new_password is required")
        check_password(new, "new_password")

        store = self._hub.store
        user = await store.get_user_by_id(principal.user_id)
        if user is None or user.disabled:
            raise Unauthenticated("user no longer exists or is disabled")
        if user.external:
            raise FailedPrecondition(
                "you log in through the directory; change your password there"
            )
        attempt = LoginAttempt.of(
            user.tenant_code, user.email, current_client_address(), time.monotonic()
        )
        wait = self._limits.start_attempt(attempt)
        if wait is not None:
            self._reject_limited(user.tenant_code, user.email, wait)
        if not verify_password(user.password_hash, current):
            self._record_failure(
                attempt, user.tenant_code, user.email, "password_change"
            )
            raise Unauthenticated("current_password is wrong")
        self._limits.finish_success(attempt)

        user.password_hash = hash_password(new)
        await store.update_user(user)
        ended = await self._sessions.revoke_user(
            user.id,
            "password changed",
            actor=user.id,
            tenant=user.tenant_code,
            keep=principal.session_id,
        )
        self._hub.audit.record(
            "authentication",
            "password_changed",
            actor=user.id,
            tenant=user.tenant_code,
            target=user.id,
            sessions_ended=len(ended),
        )
        log.info(
            "user %s changed their password; ended %d other sessions",
            user.id,
            len(ended),
        )
        return auth_pb2.ChangePasswordResponse(sessions_ended=len(ended))
