"""JWT access and refresh tokens.

Access tokens carry the user, role, tenant and session id (`sid`). Refresh
tokens carry the session id as their family id (`fam`). The store keeps each
refresh token's state, so a token works once and a reused token revokes its
whole session. An access token of a revoked session is rejected at once,
through the in-memory set in `sessions.py`.
"""

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from ris_server.errors import Unauthenticated
from ris_server.sessions import SessionRevocations


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of an RPC."""

    user_id: str
    email: str
    role: int
    tenant_code: str
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    jti: str
    family_id: str
    user_id: str
    tenant_code: str
    expires_at: float


# Verified access tokens kept for the next call; one per active caller.
VERIFIED_CACHE_SIZE = 10_000


class TokenService:
    """Issues and verifies tokens with one pinned algorithm.

    A token signed with any other algorithm, `none` included, is rejected,
    so a public key can never be used as an HMAC secret.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        verifying_key: bytes | None = None,
        issuer: str,
        audience: str,
        access_ttl: float,
        refresh_ttl: float,
        leeway: float,
        algorithm: str = "HS256",
    ) -> None:
        # HS256 signs and verifies with one secret; RS256 and ES256 sign with
        # the private key in `secret` and verify with `verifying_key`.
        self._secret = secret
        self._verifying_key = verifying_key if verifying_key is not None else secret
        self._issuer = issuer
        self._audience = audience
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._leeway = leeway
        self._algorithm = algorithm
        self.revocations = SessionRevocations(access_ttl + leeway)
        # Access tokens already verified, with their validity window: a caller
        # sends the same token on every call, and the signature check is the
        # costly part. Expiry and revocation are still checked on every call.
        self._verified: OrderedDict[str, tuple[Principal, float, float]] = OrderedDict()

    def _encode(self, claims: dict) -> str:
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)

    def _decode(self, token: str) -> dict:
        try:
            return jwt.decode(
                token,
                self._verifying_key,
                algorithms=[self._algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "typ"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired; log in again") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("invalid token") from None

    def issue_access(self, principal: Principal, now: float | None = None) -> str:
        now = time.time() if now is None else now
        return self._encode(
            {
                "sub": principal.user_id,
                "email": principal.email,
                "role": principal.role,
                "tenant": principal.tenant_code,
                "sid": principal.session_id,
                "typ": "access",
                "iss": self._issuer,
                "aud": self._audience,
                "iat": int(now),
                "nbf": int(now),
                "exp": int(now + self.access_ttl),
                "jti": uuid.uuid4().hex,
            }
        )

    def issue_refresh(
        self, principal: Principal, family_id: str, now: float | None = None
    ) -> tuple[str, RefreshClaims]:
        now = time.time() if now is None else now
        claims = RefreshClaims(
            jti=uuid.uuid4().hex,
            family_id=family_id,
            user_id=principal.user_id,
            tenant_code=principal.tenant_code,
            expires_at=int(now + self.refresh_ttl),
        )
        token = self._encode(
            {
                "sub": principal.user_id,
                "tenant": principal.tenant_code,
                "fam": family_id,
                "typ": "refresh",
                "iss": self._issuer,
                "aud": self._audience,
                "iat": int(now),
                "nbf": int(now),
                "exp": claims.expires_at,
                "jti": claims.jti,
            }
        )
        return token, claims

    def verify_access(self, token: str, now: float | None = None) -> Principal:
        """Return the caller of a valid access token; raise Unauthenticated.

        A token without a session id, or of a revoked session, is rejected.
        """
        wall = time.time()
        now = wall if now is None else now
        cached = self._verified.get(token)
        if cached is not None:
            principal, not_before, expires = cached
            if wall > expires + self._leeway:
                del self._verified[token]
                raise Unauthenticated("token expired; log in again")
            if wall >= not_before - self._leeway:
                if self.revocations.is_revoked(principal.session_id, now):
                    raise Unauthenticated("session ended; log in again")
                self._verified.move_to_end(token)
                return principal
        claims = self._decode(token)
        if claims.get("typ") != "access":
            raise Unauthenticated("not an access token")
        tenant = claims.get("tenant")
        role = claims.get("role")
        if not isinstance(tenant, str) or not tenant:
            raise Unauthenticated("token has no tenant")
        if not isinstance(role, int):
            raise Unauthenticated("token has no role")
        session_id = claims.get("sid")
        if not isinstance(session_id, str) or not session_id:
            raise Unauthenticated("token has no session; log in again")
        if self.revocations.is_revoked(session_id, now):
            raise Unauthenticated("session ended; log in again")
        principal = Principal(
            claims["sub"], claims.get("email", ""), role, tenant, session_id
        )
        self._verified[token] = (principal, claims["nbf"], claims["exp"])
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def verify_refresh(self, token: str) -> RefreshClaims:
        claims = self._decode(token)
        if claims.get("typ") != "refresh" or not claims.get("fam"):
            raise Unauthenticated("not a refresh token")
        return RefreshClaims(
            claims["jti"], claims["fam"], claims["sub"], claims["tenant"], claims["exp"]
        )
