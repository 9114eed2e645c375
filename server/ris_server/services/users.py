"""UserService: the password accounts of a tenant and their roles.

Login names are stored case-folded, so two accounts of a tenant never differ
in case only.
"""

import logging
import time
import uuid

from ris.v1 import user_pb2, user_pb2_grpc
from ris_server import rbac
from ris_server.convert import timestamp
from ris_server.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from ris_server.hub import Hub
from ris_server.interceptors import service_errors
from ris_server.login_roles import account_role
from ris_server.models import Tenant, User
from ris_server.passwords import hash_password
from ris_server.session_manager import SessionManager
from ris_server.tokens import Principal
from ris_server.validation import (
    check_login_name,
    check_page,
    check_password,
    check_uuid,
)

log = logging.getLogger(__name__)


def user_to_proto(user: User) -> user_pb2.UserAccount:
    return user_pb2.UserAccount(
        id=user.id,
        email=user.email,
        role=user.role,
        tenant_code=user.tenant_code,
        disabled=user.disabled,
        external=user.external,
        created_at=timestamp(user.created_at),
    )


def _check_role(role: int, field: str = "role") -> int:
    if role not in rbac.ROLE_NAMES.values():
        raise InvalidArgument(f"{field} {role} is not a role")
    return role


class UserServicer(user_pb2_grpc.UserServiceServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._sessions = SessionManager(
            hub.store,
            hub.tokens,
            hub.audit,
            hub.config.authentication.session.max_concurrent,
        )

    def _audit(self, principal: Principal, action: str, user: User, **details):
        self._hub.audit.record(
            "authorization",
            action,
            actor=principal.user_id,
            tenant=user.tenant_code,
            target=user.id,
            **details,
        )

    async def _get(self, user_id: str, tenant: Tenant) -> User:
        check_uuid(user_id, "user_id")
        user = await self._hub.store.get_user_by_id(user_id)
        if user is None or user.tenant_code != tenant.code:
            raise NotFound(f"user {user_id} not found")
        return user

    async def _keep_last_manager(self, user: User, role: int, disabled: bool):
        """Reject a change that leaves the tenant without an active manager.

        A tenant keeps at least one enabled superadmin once it has one, and at
        least one enabled user whose role is admin or above.
        """
        for guarded in (rbac.SUPERADMIN, rbac.ADMIN):
            if user.disabled or user.role < guarded:
                continue
            if not disabled and role >= guarded:
                continue
            count = await self._hub.store.count_active_users(user.tenant_code, guarded)
            if count <= 1:
                raise PermissionDenied(
                    f"user {user.id} is the last active "
                    f"{rbac.role_name(guarded)} of tenant {user.tenant_code}"
                )

    def _check_outranks(self, principal: Principal, user: User) -> None:
        if user.role > principal.role:
            raise PermissionDenied(
                f"user {user.id} has role {rbac.role_name(user.role)}, above "
                f"yours ({rbac.role_name(principal.role)})"
            )

    def _check_grant(self, principal: Principal, role: int) -> None:
        if role > principal.role:
            raise PermissionDenied(
                f"role {rbac.role_name(role)} is above yours "
                f"({rbac.role_name(principal.role)})"
            )

    def _check_listed_grant(
        self, principal: Principal, role: int, name: str, tenant: str, external: bool
    ) -> None:
        """Check the grant of the role that `name` gets at login, which
        `authorization.rbac.admin_users` and `super_admin_users` may raise."""
        config = self._hub.config
        effective = account_role(
            role,
            name,
            tenant,
            external,
            config.authorization.rbac,
            config.multi_tenant.default_tenant,
        )
        if effective > role and effective > principal.role:
            raise PermissionDenied(
                f"{name!r} is listed in authorization.rbac and would log in "
                f"with role {rbac.role_name(effective)}, above yours "
                f"({rbac.role_name(principal.role)})"
            )
        self._check_grant(principal, role)

    async def _end_sessions(self, principal: Principal, user: User, reason: str):
        """Revoke the user's sessions, so their access tokens stop at once."""
        await self._sessions.revoke_user(
            user.id, reason, actor=principal.user_id, tenant=user.tenant_code
        )
        await self._hub.store.revoke_user_refresh_tokens(user.id, time.time())

    @service_errors
    async def ListUsers(self, request, context):
        _, tenant = await self._hub.scoped_tenant(request.tenant_code)
        page, per_page = check_page(request.page, request.per_page)
        users, total = await self._hub.store.list_users(
            tenant.code, (page - 1) * per_page, per_page
        )
        return user_pb2.ListUsersResponse(
            users=[user_to_proto(user) for user in users],
            total=total,
            page=page,
            per_page=per_page,
        )

    @service_errors
    async def GetUser(self, request, context):
        _, tenant = await self._hub.scoped_tenant(request.tenant_code)
        user = await self._get(request.user_id, tenant)
        return user_pb2.GetUserResponse(user=user_to_proto(user))

    @service_errors
    async def CreateUser(self, request, context):
        principal, tenant = await self._hub.scoped_tenant(request.tenant_code)
        email = check_login_name(request.email).casefold()
        check_password(request.password)
        role = (
            request.role
            or rbac.ROLE_NAMES[self._hub.config.authorization.rbac.default_role]
        )
        self._check_listed_grant(
            principal, _check_role(role), email, tenant.code, False
        )
        if await self._hub.store.get_user(tenant.code, request.email) is not None:
            # An account stored with capitals before names were folded.
            # NOTE: only the exact spelling of such an account is found; the
            # store has no lookup that ignores case.
            raise AlreadyExists(
                f"user {request.email!r} already exists in tenant {tenant.code}"
            )
        user = User(
            id=str(uuid.uuid4()),
            tenant_code=tenant.code,
            email=email,
            password_hash=hash_password(request.password),
            role=role,
            created_at=time.time(),
        )
        await self._hub.store.create_user(user)
        self._audit(principal, "user_created", user, role=rbac.role_name(role))
        log.info("user %s created in tenant %s", user.id, tenant.code)
        return user_pb2.CreateUserResponse(user=user_to_proto(user))

    @service_errors
    async def UpdateUser(self, request, context):
        principal, tenant = await self._hub.scoped_tenant(request.tenant_code)
        user = await self._get(request.user_id, tenant)
        self._check_outranks(principal, user)
        role = _check_role(request.role) if request.role else user.role
        self._check_listed_grant(
            principal, role, user.email, user.tenant_code, user.external
        )
        disabled = request.disabled if request.HasField("disabled") else user.disabled

        if request.HasField("password"):
            if user.external:
                raise FailedPrecondition(
                    f"user {user.id} logs in through the directory and has no "
                    "password here"
                )
            check_password(request.password)
        if user.id == principal.user_id and disabled:
            raise FailedPrecondition("you cannot disable your own account")
        await self._keep_last_manager(user, role, disabled)

        changes = []
        if role != user.role:
            changes.append("role")
        if disabled != user.disabled:
            changes.append("disabled")
        # The role is a claim of the access token, so a lowered role takes
        # effect only when the sessions end. A raised role applies at the
        # next login or refresh.
        end_reason = ""
        if role < user.role:
            end_reason = "role lowered"
        if disabled and not user.disabled:
            end_reason = "user disabled"
        if request.HasField("password"):
            user.password_hash = hash_password(request.password)
            changes.append("password")
            end_reason = "password changed"

        user.role = role
        user.disabled = disabled
        await self._hub.store.update_user(user)
        if end_reason:
            await self._end_sessions(principal, user, end_reason)
        self._audit(
            principal,
            "user_updated",
            user,
            changed=changes,
            role=rbac.role_name(role),
        )
        return user_pb2.UpdateUserResponse(user=user_to_proto(user))

    @service_errors
    async def DeleteUser(self, request, context):
        principal, tenant = await self._hub.scoped_tenant(request.tenant_code)
        user = await self._get(request.user_id, tenant)
        if user.id == principal.user_id:
            raise FailedPrecondition("you cannot delete your own account")
        self._check_outranks(principal, user)
        await self._keep_last_manager(user, rbac.PUBLIC, True)
        await self._end_sessions(principal, user, "user deleted")
        if not await self._hub.store.delete_user(user.id):
            raise NotFound(f"user {user.id} not found")
        self._audit(principal, "user_deleted", user)
        log.info("user %s deleted from tenant %s", user.id, tenant.code)
        return user_pb2.DeleteUserResponse(deleted=True)
