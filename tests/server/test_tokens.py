"""Token attacks against the pinned-algorithm token checks."""

import base64
import json
import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ris.v1 import client_pb2
from ris_server import rbac
from ris_server.errors import Unauthenticated
from ris_server.tokens import Principal, TokenService
from tests.server.conftest import connect_api
from tests.server.test_api import rpc_error
from tests.support import Api, pem_key

PRINCIPAL = Principal("u1", "admin", rbac.SUPERADMIN, "default", "s1")


def hs_service(**overrides) -> TokenService:
    settings = {
        "issuer": "ris-server",
        "audience": "ris-api",
        "access_ttl": 60,
        "refresh_ttl": 60,
        "leeway": 30,
    } | overrides
    return TokenService(b"s" * 32, **settings)


def claims(**overrides) -> dict:
    now = int(time.time())
    return {
        "sub": "u1",
        "role": rbac.SUPERADMIN,
        "tenant": "default",
        "sid": "s1",
        "typ": "access",
        "iss": "ris-server",
        "aud": "ris-api",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
    } | overrides


def test_valid_token_round_trips():
    service = hs_service()
    assert service.verify_access(service.issue_access(PRINCIPAL)) == PRINCIPAL


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"aud": "other-api"},
        {"exp": -120},
        {"nbf": 120},
        {"typ": "refresh"},
        {"tenant": ""},
        {"sid": ""},
        {"sid": None},
    ],
)
def test_bad_claims_rejected(overrides):
    # Times are offsets from now, taken when the test runs, not at import.
    now = int(time.time())
    resolved = {
        key: now + value if key in ("exp", "nbf") else value
        for key, value in overrides.items()
    }
    token = jwt.encode(claims(**resolved), b"s" * 32, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        hs_service().verify_access(token)


def test_small_clock_skew_allowed():
    skewed = claims(nbf=int(time.time()) + 10, iat=int(time.time()) + 10)
    token = jwt.encode(skewed, b"s" * 32, algorithm="HS256")
    assert hs_service().verify_access(token).user_id == "u1"


def test_revoked_session_rejected_until_tokens_expire():
    service = hs_service(access_ttl=60, leeway=30)
    token = service.issue_access(PRINCIPAL)
    now = time.time()
    service.revocations.add("s1", now, now)
    with pytest.raises(Unauthenticated) as info:
        service.verify_access(token)
    assert "session ended" in info.value.message
    other = Principal("u1", "admin", rbac.SUPERADMIN, "default", "s2")
    assert service.verify_access(service.issue_access(other)).session_id == "s2"


def test_unsigned_token_rejected():
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    token = f"{header.decode()}.{body.decode()}."
    with pytest.raises(Unauthenticated):
        hs_service().verify_access(token)


def _key_files(tmp_path, key, name):
    private = tmp_path / f"{name}.key"
    public = tmp_path / f"{name}.pub"
    private.write_bytes(pem_key(key))
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    return private, public


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        (
            "RS256",
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ),
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
    ],
)
async def test_asymmetric_hub_rejects_confused_tokens(
    hub_factory, tmp_path, algorithm, make_key
):
    private, public = _key_files(tmp_path, make_key(), algorithm)
    server = await hub_factory(
        authentication={
            "jwt": {
                "algorithm": algorithm,
                "private_key_file": str(private),
                "public_key_file": str(public),
            }
        }
    )
    async with await connect_api(server) as channel:
        api = Api(channel)
        login = await api.login()
        assert jwt.get_unverified_header(login.access_token)["alg"] == algorithm
        listing = await api.clients.ListClients(
            client_pb2.ListClientsRequest(), metadata=api.metadata
        )
        assert listing.total == 0

        # HS256 with the public key as the HMAC secret: the classic confusion.
        body = json.dumps(claims()).encode()
        forged = _hs256_token(body, public.read_bytes())
        error = await rpc_error(
            api.clients.ListClients(
                client_pb2.ListClientsRequest(),
                metadata=(("authorization", f"Bearer {forged}"),),
            )
        )
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def _hs256_token(body: bytes, secret: bytes) -> str:
    """Sign a token with HMAC by hand: PyJWT refuses a PEM key as HMAC secret."""
    import hashlib
    import hmac

    def encode(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = encode(b'{"alg":"HS256","typ":"JWT"}')
    signing_input = f"{header}.{encode(body)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{encode(signature)}"


def test_asymmetric_algorithm_needs_key_files(tmp_path):
    from ris_server.config import ConfigError, load_config

    path = tmp_path / "config.json"
    path.write_text(json.dumps({"authentication": {"jwt": {"algorithm": "RS256"}}}))
    with pytest.raises(ConfigError) as info:
        load_config(env={"CONFIG_PATH": str(path)})
    assert "private_key_file is required" in str(info.value)


def test_cached_token_still_expires(monkeypatch):
    service = hs_service(access_ttl=60, leeway=5)
    token = service.issue_access(PRINCIPAL)
    assert service.verify_access(token) == PRINCIPAL
    later = time.time() + 120
    monkeypatch.setattr("ris_server.tokens.time.time", lambda: later)

    with pytest.raises(Unauthenticated) as error:
        service.verify_access(token)

    assert "expired" in error.value.message


def test_cached_token_still_revoked():
    service = hs_service()
    token = service.issue_access(PRINCIPAL)
    assert service.verify_access(token) == PRINCIPAL
    service.revocations.add("s1", time.time(), time.time())

    with pytest.raises(Unauthenticated) as error:
        service.verify_access(token)

    assert "session ended" in error.value.message


def test_cache_never_accepts_other_tokens():
    service = hs_service()
    token = service.issue_access(PRINCIPAL)
    service.verify_access(token)
    header, body, signature = token.split(".")
    forged = ".".join((header, body, signature[:-2] + "AA"))

    with pytest.raises(Unauthenticated):
        service.verify_access(forged)
