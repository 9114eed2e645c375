"""Server interceptors: authentication and authorization of every RPC."""

import contextvars
import logging

import grpc
from google.protobuf.message import DecodeError

from ris_server import rbac
from ris_server.audit import AuditLog
from ris_server.errors import RisError, Unauthenticated
from ris_server.tokens import Principal, TokenService

log = logging.getLogger(__name__)

_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "ris_principal", default=None
)


def current_principal() -> Principal:
    """Return the caller of the RPC being served; raise if unauthenticated."""
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated("missing access token")
    return principal


def bearer_token(metadata) -> str | None:
    for key, value in metadata or ():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


async def abort_with(context: grpc.aio.ServicerContext, error: RisError) -> None:
    if error.retry_after is not None:
        context.set_trailing_metadata(
            (("retry-after", str(max(1, round(error.retry_after)))),)
        )
    await context.abort(error.code, error.message)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks the access token and role of every non-public RPC.

    The principal is set for the duration of the handler, where services
    read it with current_principal(). Unknown methods are rejected so that a
    new RPC without an RBAC entry can never be called unchecked.
    """

    def __init__(self, tokens: TokenService, audit: AuditLog) -> None:
        self._tokens = tokens
        self._audit = audit

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        required = rbac.minimum_role(method)
        if handler.unary_unary is None:
            if required == rbac.PUBLIC:
                return handler  # the agent stream authenticates by certificate
            log.error("no unary handler to guard for %s", method)
            return None
        behavior = _decoding(handler.unary_unary, handler.request_deserializer)
        if required != rbac.PUBLIC:
            behavior = self._guard(behavior, method, required)
        # The request arrives as bytes and is decoded inside the behavior, so
        # a malformed message is INVALID_ARGUMENT rather than UNKNOWN.
        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=None,
            response_serializer=handler.response_serializer,
        )

    def _guard(self, behavior, method: str, required: int | None):
        tokens = self._tokens
        audit = self._audit

        async def guarded(request, context: grpc.aio.ServicerContext):
            if required is None:
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED, f"{method} has no access rule"
                )
            token = bearer_token(context.invocation_metadata())
            if token is None:
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "missing access token: send 'authorization: Bearer <token>'",
                )
            try:
                principal = tokens.verify_access(token)
            except Unauthenticated as exc:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.message)
            if principal.role < required:
                audit.record(
                    "authorization",
                    "denied",
                    actor=principal.user_id,
                    tenant=principal.tenant_code,
                    target=method,
                    outcome="failure",
                )
                log.info(
                    "denied %s to user %s with role %s",
                    method,
                    principal.user_id,
                    principal.role,
                )
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"role {rbac_name(principal.role)} may not call {method}",
                )
            reset = _principal.set(principal)
            try:
                return await behavior(request, context)
            finally:
                _principal.reset(reset)

        return guarded


def _decoding(behavior, deserializer):
    """Wrap a unary behavior so it decodes its own request bytes."""
    if deserializer is None:
        return behavior

    async def decoded(request_bytes, context: grpc.aio.ServicerContext):
        try:
            request = deserializer(request_bytes)
        except DecodeError:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "the request is not a valid message"
            )
        return await behavior(request, context)

    return decoded


def rbac_name(role: int) -> str:
    for name, value in rbac.ROLE_NAMES.items():
        if value == role:
            return name
    return str(role)


def service_errors(behavior):
    """Decorate a servicer method so a RisError becomes its gRPC status."""

    async def wrapper(self, request, context: grpc.aio.ServicerContext):
        try:
            return await behavior(self, request, context)
        except RisError as exc:
            await abort_with(context, exc)

    wrapper.__name__ = behavior.__name__
    wrapper.__doc__ = behavior.__doc__
    return wrapper
