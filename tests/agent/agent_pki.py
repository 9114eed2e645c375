"""Throwaway certificate authority for agent tests; keys live only in tmp_path."""

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=1)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class CertificateAuthority:
    """A CA key and certificate plus the hub's server certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    server_key_pem: bytes
    server_certificate_pem: bytes

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write_ca_file(self, directory: Path) -> Path:
        path = directory / "hub-ca.crt"
        path.write_bytes(self.certificate_pem)
        return path

    def sign(
        self,
        public_key,
        common_name: str,
        extended_usage: list,
        san: list | None = None,
    ) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage(extended_usage), False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), False)
        return builder.sign(self.key, hashes.SHA256())

    def sign_csr(self, csr_pem: str, client_id: str) -> bytes:
        """Issue a client certificate for the CSR's key, named after the client."""
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        certificate = self.sign(
            csr.public_key(), client_id, [ExtendedKeyUsageOID.CLIENT_AUTH]
        )
        return certificate.public_bytes(serialization.Encoding.PEM)


def make_test_ca() -> CertificateAuthority:
    """Create a CA and a server certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("ris test CA"))
        .issuer_name(_name("ris test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + _VALIDITY)
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
        .sign(key, hashes.SHA256())
    )
    ca = CertificateAuthority(key, certificate, b"", b"")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_certificate = ca.sign(
        server_key.public_key(),
        "ris test hub",
        [ExtendedKeyUsageOID.SERVER_AUTH],
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    ca.server_key_pem = _pem_key(server_key)
    ca.server_certificate_pem = server_certificate.public_bytes(
        serialization.Encoding.PEM
    )
    return ca
