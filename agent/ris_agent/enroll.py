"""Enrollment: trade a one-time token and a CSR for the agent's certificate.

The private key is generated locally and never leaves the host. The Enroll call
goes to the hub's API port over TLS, verifying the hub with a CA file given by
the operator.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ris.v1 import agent_pb2, agent_pb2_grpc
from ris_agent.backoff import ReconnectPolicy
from ris_agent.endpoints import endpoint_from_server_host
from ris_agent.files import write_file_atomic
from ris_agent.state import AgentState, DataDir, save_state

logger = logging.getLogger(__name__)

TOKEN_ENV = "RIS_ENROLLMENT_TOKEN"
DEFAULT_ENROLL_TIMEOUT_SECONDS = 30.0
MAX_HOSTNAME_LENGTH = 253
EXIT_FAILURE = 1
EXIT_USAGE = 2
_MAX_COMMON_NAME_LENGTH = 64  # upper bound of X.520 commonName


class EnrollmentError(Exception):
    """Enrollment failed; the message gives the cause and the next step."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class EnrollOptions:
    """Inputs of ``ris-agent enroll``."""

    hub: str
    """API port of the hub as "HOST:PORT"."""
    token: str = field(repr=False)
    ca_file: Path
    data_dir: DataDir
    hostname: str
    timeout: float = DEFAULT_ENROLL_TIMEOUT_SECONDS
    force: bool = False


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def build_csr(key: ec.EllipticCurvePrivateKey, hostname: str) -> str:
    """Return a PEM CSR for the key. The hub ignores the subject; it names the host."""
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, hostname[:_MAX_COMMON_NAME_LENGTH])]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(subject)
    return (
        request.sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


def read_ca_file(path: Path) -> bytes:
    """Read a PEM CA bundle. Raises EnrollmentError (usage) if unreadable or not PEM."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise EnrollmentError(
            f"cannot read CA file {path}: {error.strerror}", EXIT_USAGE
        ) from error
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        raise EnrollmentError(
            f"invalid CA file {path}: expected PEM certificates", EXIT_USAGE
        ) from None
    return data


def _rpc_error_message(error: grpc.aio.AioRpcError, hub: str, timeout: float) -> str:
    code, details = error.code(), error.details() or ""
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return (
            f"the hub rejected the enrollment token ({details}); "
            "ask an administrator for a new token"
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return (
            f"cannot reach the hub at {hub} ({details}); check --hub, the network "
            "and that --ca-file contains the CA of the hub's certificate"
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"the hub at {hub} did not respond within {timeout:g} s"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return f"the hub rejected the enrollment request: {details}"
    return f"enrollment failed: {code.name}: {details}"


async def request_enrollment(
    hub: str, ca_pem: bytes, request: agent_pb2.EnrollRequest, timeout: float
) -> agent_pb2.EnrollResponse:
    """Call AgentService.Enroll over TLS. Raises EnrollmentError on any RPC error."""
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    async with grpc.aio.secure_channel(hub, credentials) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        try:
            return await stub.Enroll(request, timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise EnrollmentError(_rpc_error_message(error, hub, timeout)) from None


def _check_response(
    response: agent_pb2.EnrollResponse, key: ec.EllipticCurvePrivateKey
) -> None:
    try:
        certificate = x509.load_pem_x509_certificate(response.certificate_pem.encode())
        x509.load_pem_x509_certificates(response.ca_certificate_pem.encode())
    except ValueError as error:
        raise EnrollmentError(f"the hub sent an invalid certificate: {error}") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if certificate.public_key().public_bytes(
        der, spki
    ) != key.public_key().public_bytes(der, spki):
        raise EnrollmentError("the hub's certificate does not match the agent's key")
    if not response.unique_client_id:
        raise EnrollmentError("the hub sent no unique_client_id")


def _state_from_response(
    response: agent_pb2.EnrollResponse, hostname: str
) -> AgentState:
    config = response.client_config
    try:
        endpoint = endpoint_from_server_host(config.server_host)
    except ValueError as error:
        logger.warning(
            "no usable agent endpoint from the hub (%s); pass --hub-agent-endpoint "
            "to 'ris-agent run'",
            error,
        )
        endpoint = ""
    policy = config.reconnect_policy
    expires_at = ""
    if response.HasField("expires_at"):
        expires_at = response.expires_at.ToDatetime(tzinfo=UTC).isoformat()
    return AgentState(
        unique_client_id=response.unique_client_id,
        tenant_code=response.tenant_code,
        server_host=config.server_host,
        agent_endpoint=endpoint,
        hostname=hostname,
        heartbeat_interval=config.heartbeat_interval,
        reconnect_policy=ReconnectPolicy(
            max_attempts=policy.max_attempts,
            initial_delay=policy.initial_delay,
            max_delay=policy.max_delay,
            backoff_strategy=policy.backoff_strategy,
        ),
        certificate_expires_at=expires_at,
        enrolled_at=datetime.now(UTC).isoformat(),
    )


def store_enrollment(
    data_dir: DataDir,
    key: ec.EllipticCurvePrivateKey,
    response: agent_pb2.EnrollResponse,
    hostname: str,
) -> AgentState:
    """Write key (mode 0600), certificates and state.json. Raises OSError.

    state.json is written last, so its presence means a complete enrollment.
    """
    data_dir.create()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_file_atomic(data_dir.key_path, key_pem, 0o600)
    write_file_atomic(
        data_dir.certificate_path, response.certificate_pem.encode(), 0o644
    )
    write_file_atomic(
        data_dir.ca_certificate_path, response.ca_certificate_pem.encode(), 0o644
    )
    state = _state_from_response(response, hostname)
    save_state(data_dir, state)
    return state


def _check_options(options: EnrollOptions) -> None:
    if not options.token:
        raise EnrollmentError(
            f"missing enrollment token: set {TOKEN_ENV} or pass --token", EXIT_USAGE
        )
    if not options.hostname or len(options.hostname) > MAX_HOSTNAME_LENGTH:
        raise EnrollmentError(
            f"invalid hostname: expected 1 to {MAX_HOSTNAME_LENGTH} characters",
            EXIT_USAGE,
        )
    state_path = options.data_dir.state_path
    if state_path.exists() and not options.force:
        raise EnrollmentError(
            f"already enrolled: {state_path} exists; pass --force to enroll again "
            "with a new key"
        )


async def enroll(options: EnrollOptions) -> AgentState:
    """Enroll the agent and store its identity in the data directory.

    Raises EnrollmentError whose exit_code is 2 for bad input (missing token, bad
    hostname, unreadable CA file) and 1 for failures (already enrolled, hub
    unreachable, token rejected, invalid response, data directory not writable).
    """
    _check_options(options)
    ca_pem = read_ca_file(options.ca_file)
    key = generate_private_key()
    request = agent_pb2.EnrollRequest(
        token=options.token,
        csr_pem=build_csr(key, options.hostname),
        hostname=options.hostname,
    )

    logger.info("enrolling with hub %s as host %s", options.hub, options.hostname)
    response = await request_enrollment(options.hub, ca_pem, request, options.timeout)
    _check_response(response, key)
    try:
        state = await asyncio.to_thread(
            store_enrollment, options.data_dir, key, response, options.hostname
        )
    except OSError as error:
        raise EnrollmentError(
            f"enrolled, but cannot write to {options.data_dir.root}: {error}; "
            "fix the directory and enroll again with a new token"
        ) from error
    logger.info(
        "enrolled as client %s of tenant %s", state.unique_client_id, state.tenant_code
    )
    return state
