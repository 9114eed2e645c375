"""The hub's own certificate authority.

The CA signs the hub's server certificate and the agents' client
certificates. A client certificate names its client in the common name and
carries the tenant and client id in a URI subject alternative name of the
form ``urn:ris:tenant:<tenant_code>:client:<unique_client_id>``. The hub
reads an agent's identity from that name only.
"""

import datetime
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ris_server.ca_files import check_ca_settings, load_external_ca
from ris_server.errors import InvalidArgument

log = logging.getLogger(__name__)

IDENTITY_PREFIX = "urn:ris:tenant:"
CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)
# Certificates start this long before their issue time, so a peer whose
# clock runs behind accepts them at once. Short-lived client certificates
# start at most a tenth of their lifetime early instead.
BACKDATE = datetime.timedelta(minutes=5)


def serial_hex(cert: x509.Certificate) -> str:
    """Return the serial number as the hub stores it: lower-case hex."""
    return format(cert.serial_number, "x")


class RevokedSerials:
    """Serials of revoked, unexpired client certificates, held in memory.

    The store is the record; the hub loads this set at start and adds to it
    on every revocation, so the agent port checks a stream without a query.
    """

    def __init__(self) -> None:
        self._serials: set[str] = set()

    def __contains__(self, serial: str) -> bool:
        return serial in self._serials

    def __len__(self) -> int:
        return len(self._serials)

    def add(self, serials) -> None:
        self._serials.update(serials)


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    tenant_code: str
    unique_client_id: str
    serial: str


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file with mode 0600, replacing any older file atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def identity_uri(tenant_code: str, unique_client_id: str) -> str:
    return f"{IDENTITY_PREFIX}{tenant_code}:client:{unique_client_id}"


def parse_identity(cert_pem: bytes) -> AgentIdentity | None:
    """Read the tenant and client id from a verified client certificate."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        names = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        return None
    for name in names:
        if not name.startswith(IDENTITY_PREFIX):
            continue
        tenant, sep, client = name[len(IDENTITY_PREFIX) :].partition(":client:")
        if sep and tenant and client:
            return AgentIdentity(tenant, client, serial_hex(cert))
    return None


def dns_names(cert_pem: bytes) -> list[str]:
    """Return the DNS names in a certificate's subject alternative name."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return ext.value.get_values_for_type(x509.DNSName)


class CertificateAuthority:
    """Loads or creates the CA and the server certificate in a directory."""

    def __init__(
        self,
        directory: Path,
        server_names: list[str],
        ca_file: str = "",
        ca_key_file: str = "",
    ) -> None:
        """Use the CA in `ca_file` and `ca_key_file` when set, else DIRECTORY/ca.*.

        Raises CaConfigError when the given CA files are unusable.
        """
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.ca_cert_path = directory / "ca.crt"
        self.ca_key_path = directory / "ca.key"
        self.server_cert_path = directory / "server.crt"
        self.server_key_path = directory / "server.key"
        if ca_file or ca_key_file:
            check_ca_settings(True, "require", ca_file, ca_key_file)
            self.ca_cert_path = Path(ca_file)
            self.ca_key_path = Path(ca_key_file)
            self.ca_cert, self.ca_key = load_external_ca(
                self.ca_cert_path, self.ca_key_path
            )
            log.info("using the CA in %s", ca_file)
        else:
            self._load_or_create_ca()
        self._ensure_server_cert(server_names)

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)

    def _load_or_create_ca(self) -> None:
        if self.ca_cert_path.exists() and self.ca_key_path.exists():
            self.ca_cert = x509.load_pem_x509_certificate(
                self.ca_cert_path.read_bytes()
            )
            self.ca_key = serialization.load_pem_private_key(
                self.ca_key_path.read_bytes(), password=None
            )
            return
        log.info("creating the hub CA in %s", self.directory)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RIS hub CA")])
        now = _now()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()),
                False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        write_private(self.ca_key_path, _key_pem(self.ca_key))
        self.ca_cert_path.write_bytes(self.ca_pem)

    def _ensure_server_cert(self, server_names: list[str]) -> None:
        names = sorted(
            {"localhost", "127.0.0.1", "::1", socket.gethostname(), *server_names}
            - {""}
        )
        if self.server_cert_path.exists() and self.server_key_path.exists():
            cert = x509.load_pem_x509_certificate(self.server_cert_path.read_bytes())
            if (
                cert.issuer == self.ca_cert.subject
                and cert.not_valid_after_utc - _now() > RENEW_BEFORE
                and set(_san_strings(cert)) >= set(names)
            ):
                return
        log.info("issuing the hub server certificate for %s", ", ".join(names))
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        cert = self._sign(
            key.public_key(),
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ris-server")]),
            sans,
            ExtendedKeyUsageOID.SERVER_AUTH,
            SERVER_DAYS,
        )
        write_private(self.server_key_path, _key_pem(key))
        self.server_cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def _sign(self, public_key, subject, sans, usage, days) -> x509.Certificate:
        now = _now()
        lifetime = datetime.timedelta(days=days)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - min(BACKDATE, lifetime / 10))
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.SubjectAlternativeName(sans), False)
            .add_extension(x509.ExtendedKeyUsage([usage]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.ca_key.public_key()
                ),
                False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )

    def issue_client_certificate(
        self,
        public_key,
        tenant_code: str,
        unique_client_id: str,
        hostname: str,
        days: float,
    ) -> x509.Certificate:
        """Sign a client certificate that names the tenant and client."""
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, unique_client_id),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, tenant_code),
            ]
        )
        sans: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(identity_uri(tenant_code, unique_client_id))
        ]
        if hostname:
            sans.append(x509.DNSName(hostname))
        return self._sign(
            public_key, subject, sans, ExtendedKeyUsageOID.CLIENT_AUTH, days
        )

    @staticmethod
    def check_csr(csr_pem: str, allow_extensions: bool = True):
        """Return the public key of a valid CSR.

        Raises InvalidArgument for an unparsable CSR, a bad signature, a weak
        key, or requested extensions when `allow_extensions` is false. The
        CSR's subject and allowed extensions are ignored.
        """
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise InvalidArgument("csr_pem is not a PEM-encoded PKCS#10 CSR") from None
        if not csr.is_signature_valid:
            raise InvalidArgument("csr_pem has an invalid signature")
        if not allow_extensions and len(csr.extensions) > 0:
            raise InvalidArgument(
                "csr_pem requests extensions; the hub sets the certificate's "
                "names itself, so send a CSR with the public key only"
            )
        key = csr.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 2048:
                raise InvalidArgument("csr_pem has an RSA key under 2048 bits")
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if key.curve.name not in ("secp256r1", "secp384r1"):
                raise InvalidArgument(
                    f"csr_pem uses curve {key.curve.name}; use P-256 or P-384"
                )
        else:
            raise InvalidArgument("csr_pem must carry an EC P-256/P-384 or RSA key")
        return key

    def issue_client_keypair(
        self, tenant_code: str, unique_client_id: str, hostname: str, days: float
    ) -> tuple[bytes, bytes]:
        """Create a key and certificate for a client; return both as PEM."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.issue_client_certificate(
            key.public_key(), tenant_code, unique_client_id, hostname, days
        )
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _san_strings(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    values = [str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)]
    return values + ext.value.get_values_for_type(x509.DNSName)
