"""AuthService: password login and the refresh token cycle."""

import logging
import time
import uuid

from ris.v1 import auth_pb2, auth_pb2_grpc, tenant_pb2
from ris_server.errors import InvalidArgument, Unauthenticated
from ris_server.hub import Hub
from ris_server.interceptors import service_errors
from ris_server.models import RefreshToken
from ris_server.passwords import verify_password
from ris_server.tokens import Principal

log = logging.getLogger(__name__)

_BAD_LOGIN = "invalid username, password or tenant"


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def _issue(self, principal: Principal, family_id: str) -> dict:
        tokens = self._hub.tokens
        refresh, claims = tokens.issue_refresh(principal, family_id)
        await self._hub.store.save_refresh_token(
            RefreshToken(
                claims.jti,
                claims.family_id,
                claims.user_id,
                claims.tenant_code,
                claims.expires_at,
            )
        )
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
        if not request.username:
            raise InvalidArgument("username is required")
        if not request.password:
            raise InvalidArgument("password is required")
        tenant_code = (
            request.tenant_code or self._hub.config.multi_tenant.default_tenant
        )
        store = self._hub.store
        tenant = await store.get_tenant(tenant_code)
        user = await store.get_user(tenant_code, request.username) if tenant else None
        valid = verify_password(user.password_hash if user else None, request.password)
        if not (valid and user and tenant) or (
            tenant.status != tenant_pb2.TENANT_STATUS_ACTIVE
        ):
            log.info("failed login for tenant %s", tenant_code[:64])
            self._hub.audit.record(
                "authentication",
                "login",
                tenant=tenant_code[:64],
                target=request.username[:128],
                outcome="failure",
            )
            raise Unauthenticated(_BAD_LOGIN)
        principal = Principal(user.id, user.email, user.role, tenant.code)
        self._hub.audit.record(
            "authentication", "login", actor=user.id, tenant=tenant.code
        )
        log.info("user %s logged in to tenant %s", user.id, tenant.code)
        return auth_pb2.LoginResponse(**await self._issue(principal, uuid.uuid4().hex))

    @service_errors
    async def Refresh(self, request, context):
        if not request.refresh_token:
            raise InvalidArgument("refresh_token is required")
        claims = self._hub.tokens.verify_refresh(request.refresh_token)
        now = time.time()
        record = await self._hub.store.use_refresh_token(claims.jti, now)
        if record is None or record.revoked_at is not None:
            raise Unauthenticated("refresh token revoked")
        if record.used_at is not None:
            revoked = await self._hub.store.revoke_refresh_family(record.family_id, now)
            self._hub.audit.record(
                "authentication",
                "refresh_token_reuse",
                actor=record.user_id,
                tenant=record.tenant_code,
                outcome="failure",
                revoked=revoked,
            )
            log.warning(
                "refresh token reuse for user %s; revoked %d tokens of its family",
                record.user_id,
                revoked,
            )
            raise Unauthenticated("refresh token already used; log in again")
        user = await self._hub.store.get_user_by_id(record.user_id)
        if user is None:
            raise Unauthenticated("user no longer exists")
        principal = Principal(user.id, user.email, user.role, user.tenant_code)
        return auth_pb2.RefreshResponse(
            **await self._issue(principal, record.family_id)
        )

    @service_errors
    async def Logout(self, request, context):
        if not request.refresh_token:
            raise InvalidArgument("refresh_token is required")
        claims = self._hub.tokens.verify_refresh(request.refresh_token)
        revoked = await self._hub.store.revoke_refresh_family(
            claims.family_id, time.time()
        )
        return auth_pb2.LogoutResponse(revoked=revoked > 0)
