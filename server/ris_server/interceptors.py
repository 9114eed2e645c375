"""Server interceptors: rate limits, authentication and authorization of RPCs."""

import contextvars
import logging

import grpc
from google.protobuf.message import DecodeError

from ris_server import rbac
from ris_server.audit import AuditLog
from ris_server.client_address import ClientAddressResolver, IPAddress
from ris_server.errors import ResourceExhausted, RisError, Unauthenticated
from ris_server.ratelimit import whole_seconds
from ris_server.request_limits import RequestLimiter
from ris_server.tokens import Principal, TokenService

log = logging.getLogger(__name__)

_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "ris_principal", default=None
)
_client_address: contextvars.ContextVar[IPAddress | None] = contextvars.ContextVar(
    "ris_client_address", default=None
)


def current_principal() -> Principal:
    """Return the caller of the RPC being served; raise if unauthenticated."""
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated("missing access token")
    return principal


def current_client_address() -> IPAddress | None:
    """Return the client address of the RPC being served, or None when the
    peer has no IP address (a Unix socket, or outside an RPC).

    This is the address the rate limits use: the peer's, or the one resolved
    through trusted proxies or a verified REST edge.
    """
    return _client_address.get()


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
        # Rounded up, so a client that waits this long finds a token.
        context.set_trailing_metadata(
            (("retry-after", str(whole_seconds(error.retry_after))),)
        )
    await context.abort(error.code, error.message)


# Health probes are never rate limited, so a busy address sharing the probe's
# address cannot make the hub look down. GetHealth serves a cached report.
UNLIMITED_METHODS = frozenset(
    {"/ris.v1.SystemService/GetHealth", "/grpc.health.v1.Health/Check"}
)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks the rate limit, access token and role of every unary RPC.

    The principal and the client address are set for the duration of the
    handler, where services read them with current_principal() and
    current_client_address(). Unknown methods are rejected so that a new RPC
    without an RBAC entry can never be called unchecked. Rate limits apply to
    unary calls on the API port only: streams (the agent's Connect among
    them) and calls from a verified agent certificate are not limited.
    """

    def __init__(
        self,
        tokens: TokenService,
        audit: AuditLog,
        *,
        addresses: ClientAddressResolver | None = None,
        limiter: RequestLimiter | None = None,
    ) -> None:
        self._tokens = tokens
        self._audit = audit
        self._addresses = addresses or ClientAddressResolver()
        self._limiter = limiter

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
        behavior = self._guard(behavior, method, required)
        # The request arrives as bytes and is decoded inside the behavior, so
        # a malformed message is INVALID_ARGUMENT rather than UNKNOWN, and a
        # flood of them still meets the rate limit first.
        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=None,
            response_serializer=handler.response_serializer,
        )

    def _authenticate(self, metadata) -> tuple[Principal | None, str | None]:
        """Return the principal of the call's access token, or the reason why
        there is none."""
        token = bearer_token(metadata)
        if token is None:
            return None, "missing access token: send 'authorization: Bearer <token>'"
        try:
            return self._tokens.verify_access(token), None
        except Unauthenticated as exc:
            return None, exc.message

    async def _check_rate_limit(
        self,
        context: grpc.aio.ServicerContext,
        method: str,
        address: IPAddress | None,
        principal: Principal | None,
    ) -> None:
        if self._limiter is None or method in UNLIMITED_METHODS:
            return
        if _has_agent_certificate(context):
            return
        decision = await self._limiter.admit(method, address, principal)
        if not decision.allowed:
            seconds = whole_seconds(decision.retry_after)
            await abort_with(
                context,
                ResourceExhausted(
                    f"rate limit exceeded; retry in {seconds} s",
                    retry_after=decision.retry_after,
                ),
            )

    def _guard(self, behavior, method: str, required: int | None):
        audit = self._audit

        async def guarded(request, context: grpc.aio.ServicerContext):
            if required is None:
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED, f"{method} has no access rule"
                )
            metadata = context.invocation_metadata()
            principal, auth_error = None, None
            if required != rbac.PUBLIC:
                principal, auth_error = self._authenticate(metadata)
            address = self._addresses.resolve(context.peer(), metadata)
            # The limit comes before the authentication result, so a flood of
            # calls with bad tokens is limited by address too.
            await self._check_rate_limit(context, method, address, principal)
            if auth_error is not None:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, auth_error)
            if principal is not None and principal.role < required:
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
                    f"role {rbac.role_name(principal.role)} may not call {method}",
                )
            principal_reset = _principal.set(principal)
            address_reset = _client_address.set(address)
            try:
                return await behavior(request, context)
            finally:
                _client_address.reset(address_reset)
                _principal.reset(principal_reset)

        return guarded


def _has_agent_certificate(context: grpc.aio.ServicerContext) -> bool:
    """Return whether the peer presented a verified client certificate, which
    only the agent port requests."""
    return bool(context.auth_context().get("x509_pem_cert"))


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
