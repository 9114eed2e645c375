"""Renewal timing and the crash-safe install of a renewed key and certificate."""

import datetime
import stat

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ris_agent.renewal import (
    build_renewal_csr,
    install_credentials,
    recover_pending_renewal,
    renewal_due,
)
from ris_agent.state import DataDir

START = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


def certificate(days: float) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agent")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(START + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def test_renewal_due_at_fraction_left():
    cert = certificate(90)
    assert not renewal_due(cert, 1 / 3, START + datetime.timedelta(days=59))
    assert renewal_due(cert, 1 / 3, START + datetime.timedelta(days=61))
    assert renewal_due(cert, 1 / 3, START + datetime.timedelta(days=91))


def test_renewal_csr_has_only_key():
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.load_pem_x509_csr(build_renewal_csr(key).encode())
    assert csr.is_signature_valid
    assert len(csr.subject) == 0
    assert len(csr.extensions) == 0


def make_data_dir(tmp_path) -> DataDir:
    data_dir = DataDir(tmp_path / "data")
    data_dir.create()
    data_dir.key_path.write_bytes(b"old key")
    data_dir.certificate_path.write_bytes(b"old cert")
    return data_dir


def test_install_replaces_pair_private_key(tmp_path):
    data_dir = make_data_dir(tmp_path)
    install_credentials(data_dir, b"new key", b"new cert")
    assert data_dir.key_path.read_bytes() == b"new key"
    assert data_dir.certificate_path.read_bytes() == b"new cert"
    assert stat.S_IMODE(data_dir.key_path.stat().st_mode) == 0o600
    assert sorted(p.name for p in data_dir.root.iterdir()) == ["agent.crt", "agent.key"]


def test_recover_finishes_complete_pending_pair(tmp_path):
    data_dir = make_data_dir(tmp_path)
    (data_dir.root / "agent.key.new").write_bytes(b"new key")
    (data_dir.root / "agent.crt.new").write_bytes(b"new cert")
    recover_pending_renewal(data_dir)
    assert data_dir.key_path.read_bytes() == b"new key"
    assert data_dir.certificate_path.read_bytes() == b"new cert"


def test_recover_after_key_renamed(tmp_path):
    data_dir = make_data_dir(tmp_path)
    data_dir.key_path.write_bytes(b"new key")
    (data_dir.root / "agent.crt.new").write_bytes(b"new cert")
    recover_pending_renewal(data_dir)
    assert data_dir.certificate_path.read_bytes() == b"new cert"
    assert not (data_dir.root / "agent.crt.new").exists()


def test_recover_discards_lone_pending_key(tmp_path):
    data_dir = make_data_dir(tmp_path)
    (data_dir.root / "agent.key.new").write_bytes(b"half-written renewal")
    recover_pending_renewal(data_dir)
    assert data_dir.key_path.read_bytes() == b"old key"
    assert data_dir.certificate_path.read_bytes() == b"old cert"
    assert not (data_dir.root / "agent.key.new").exists()
