"""Envelope encryption of stored values: a master key wraps per-tenant data keys.

Each tenant has one or more data keys of 32 random bytes. The store keeps
them wrapped (AES-256-GCM under the master key, bound to the key id and the
tenant) together with their creation time. A value is encrypted with the
tenant's newest data key into a self-describing envelope:

    magic b"\\x00RIS" | version (1 byte) | key id (16 bytes)
    | nonce (12 bytes) | AES-256-GCM ciphertext with its 16-byte tag

The associated data is the envelope header followed by the tenant code,
table, column and row id, so a value copied to another row, column or tenant
fails to decrypt. No serialized protobuf message or JSON text starts with a
zero byte, so the magic distinguishes an envelope from a plain value. Text columns
keep the envelope as TEXT_PREFIX followed by its URL-safe base64 form.

This module does no I/O; the store persists DataKeyRecord rows and passes
them in. Key material never appears in a message or a log line.
"""

import base64
import os
import struct
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ris_server.errors import RisError

KEY_SIZE = 32
NONCE_SIZE = 12
KEY_ID_SIZE = 16
ENVELOPE_MAGIC = b"\x00RIS"
ENVELOPE_VERSION = 1
_HEADER_SIZE = len(ENVELOPE_MAGIC) + 1 + KEY_ID_SIZE
_TAG_SIZE = 16
TEXT_PREFIX = "ris-enc:"
SECONDS_PER_DAY = 86_400


class KeyringError(RisError):
    """A key or an encrypted value cannot be used; the message names which."""

    code = grpc.StatusCode.INTERNAL


class DecryptionError(KeyringError):
    """An encrypted value was altered, moved, or needs a data key not found."""

    code = grpc.StatusCode.DATA_LOSS


class UnknownDataKey(DecryptionError):
    """The envelope names a data key this keyring has not loaded."""


@dataclass(frozen=True, slots=True)
class DataKeyRecord:
    """A wrapped data key as the store keeps it.

    `wrapped` is the 12-byte nonce followed by the AES-256-GCM ciphertext
    and tag of the 32-byte key under the master key.
    """

    key_id: str  # 32 lowercase hex digits
    tenant_code: str
    wrapped: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class Place:
    """The location of an encrypted value: its table, column and row id."""

    table: str
    column: str
    row_id: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column} of row {self.row_id!r}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """The parts of an encrypted value."""

    version: int
    key_id: str
    nonce: bytes
    ciphertext: bytes  # includes the 16-byte GCM tag

    @property
    def header(self) -> bytes:
        return ENVELOPE_MAGIC + bytes([self.version]) + bytes.fromhex(self.key_id)

    def to_bytes(self) -> bytes:
        return self.header + self.nonce + self.ciphertext

    @classmethod
    def parse(cls, blob: bytes) -> "Envelope":
        """Split an envelope; raise DecryptionError for a malformed one."""
        if not blob.startswith(ENVELOPE_MAGIC):
            raise DecryptionError("value is not an encrypted envelope")
        if len(blob) < _HEADER_SIZE + NONCE_SIZE + _TAG_SIZE:
            raise DecryptionError(
                f"encrypted envelope is truncated ({len(blob)} bytes)"
            )
        version = blob[len(ENVELOPE_MAGIC)]
        if version != ENVELOPE_VERSION:
            raise DecryptionError(
                f"encrypted envelope has version {version}; this hub reads "
                f"version {ENVELOPE_VERSION}"
            )
        key_id = blob[len(ENVELOPE_MAGIC) + 1 : _HEADER_SIZE].hex()
        nonce = blob[_HEADER_SIZE : _HEADER_SIZE + NONCE_SIZE]
        return cls(version, key_id, nonce, blob[_HEADER_SIZE + NONCE_SIZE :])


def is_envelope(value: bytes | str | None) -> bool:
    """Tell whether a stored value (bytes, or text with TEXT_PREFIX) is encrypted."""
    if isinstance(value, str):
        return value.startswith(TEXT_PREFIX)
    return value is not None and value.startswith(ENVELOPE_MAGIC)


def envelope_key_id(value: bytes | str) -> str:
    """Return the data key id named by an encrypted value."""
    if isinstance(value, str):
        value = decode_text_envelope(value)
    return Envelope.parse(value).key_id


def decode_text_envelope(text: str) -> bytes:
    """Return the envelope bytes of a TEXT_PREFIX value."""
    try:
        return base64.urlsafe_b64decode(text.removeprefix(TEXT_PREFIX))
    except ValueError:
        raise DecryptionError("encrypted text value is not valid base64") from None


def _field(value: str) -> bytes:
    data = value.encode()
    return struct.pack(">I", len(data)) + data


def _associated_data(header: bytes, tenant_code: str, place: Place) -> bytes:
    return (
        header
        + _field(tenant_code)
        + _field(place.table)
        + _field(place.column)
        + _field(place.row_id)
    )


def _wrap_context(key_id: str, tenant_code: str) -> bytes:
    return b"ris-data-key\x00" + bytes.fromhex(key_id) + _field(tenant_code)


def check_master_key(master_key: bytes) -> None:
    if len(master_key) != KEY_SIZE:
        raise KeyringError(
            f"the master key must be {KEY_SIZE} bytes, got {len(master_key)}"
        )


def wrap_data_key(
    master_key: bytes, key_id: str, tenant_code: str, data_key: bytes
) -> bytes:
    """Encrypt a data key under the master key, bound to its id and tenant."""
    nonce = os.urandom(NONCE_SIZE)
    sealed = AESGCM(master_key).encrypt(
        nonce, data_key, _wrap_context(key_id, tenant_code)
    )
    return nonce + sealed


def unwrap_data_key(master_key: bytes, record: DataKeyRecord) -> bytes:
    """Decrypt a wrapped data key; raise KeyringError naming the key id."""
    nonce, sealed = record.wrapped[:NONCE_SIZE], record.wrapped[NONCE_SIZE:]
    try:
        data_key = AESGCM(master_key).decrypt(
            nonce, sealed, _wrap_context(record.key_id, record.tenant_code)
        )
    except (InvalidTag, ValueError):
        raise KeyringError(
            f"cannot unwrap data key {record.key_id} of tenant "
            f"{record.tenant_code!r}: the master key does not match (wrong "
            "master key file?) or the wrapped key was altered"
        ) from None
    if len(data_key) != KEY_SIZE:
        raise KeyringError(f"data key {record.key_id} has the wrong size")
    return data_key


class Keyring:
    """Unwrapped data keys of every tenant, and the envelope operations.

    `clock` returns the current time in epoch seconds; it decides when a
    tenant's newest key is older than `rotation_days`.
    """

    def __init__(
        self,
        master_key: bytes,
        records: Iterable[DataKeyRecord] = (),
        *,
        rotation_days: int = 90,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_master_key(master_key)
        if rotation_days < 1:
            raise KeyringError(f"rotation_days must be at least 1, got {rotation_days}")
        self._master_key = master_key
        self.rotation_days = rotation_days
        self.clock = clock
        self._keys: dict[str, AESGCM] = {}
        self._records: dict[str, DataKeyRecord] = {}
        for record in records:
            self.add(record)

    def __repr__(self) -> str:
        return f"Keyring({len(self._records)} data keys)"

    def add(self, record: DataKeyRecord) -> None:
        """Unwrap a stored data key and make it usable."""
        self._keys[record.key_id] = AESGCM(unwrap_data_key(self._master_key, record))
        self._records[record.key_id] = record

    def knows(self, key_id: str) -> bool:
        return key_id in self._records

    def records(self) -> list[DataKeyRecord]:
        """Return every loaded data key record, oldest first."""
        return sorted(self._records.values(), key=lambda r: (r.created_at, r.key_id))

    def newest(self, tenant_code: str) -> DataKeyRecord | None:
        """Return the tenant's most recently created data key, if any."""
        own = [r for r in self._records.values() if r.tenant_code == tenant_code]
        return max(own, key=lambda r: (r.created_at, r.key_id), default=None)

    def rotation_due(self, tenant_code: str) -> bool:
        """Tell whether the tenant has no data key or its newest one is too old."""
        newest = self.newest(tenant_code)
        if newest is None:
            return True
        age = self.clock() - newest.created_at
        return age >= self.rotation_days * SECONDS_PER_DAY

    def create_data_key(self, tenant_code: str) -> DataKeyRecord:
        """Make a new random data key for a tenant, wrapped under the master key.

        The key is not usable until the caller has stored the record and
        passed it to add(), so a key is never used before it is persisted.
        Its creation time is later than that of the tenant's newest key even
        when the clock went back, so the new key becomes the newest.
        """
        key_id = uuid.uuid4().hex
        data_key = AESGCM.generate_key(bit_length=KEY_SIZE * 8)
        wrapped = wrap_data_key(self._master_key, key_id, tenant_code, data_key)
        created_at = self.clock()
        newest = self.newest(tenant_code)
        if newest is not None and created_at <= newest.created_at:
            created_at = newest.created_at + 0.001
        return DataKeyRecord(key_id, tenant_code, wrapped, created_at)

    def with_records(self, records: Iterable[DataKeyRecord]) -> "Keyring":
        """Return a keyring with this master key, rotation period and clock.

        It holds only `records`, so its newest key per tenant is chosen
        among them (a store that keeps its own data keys uses one).
        """
        return Keyring(
            self._master_key,
            records,
            rotation_days=self.rotation_days,
            clock=self.clock,
        )

    def rewrap(self, new_master_key: bytes) -> list[DataKeyRecord]:
        """Return every data key wrapped under a new master key.

        The data keys themselves do not change, so encrypted rows stay as
        they are. The keyring keeps using the old master key until the
        caller builds a new one.
        """
        check_master_key(new_master_key)
        rewrapped = []
        for record in self.records():
            data_key = unwrap_data_key(self._master_key, record)
            wrapped = wrap_data_key(
                new_master_key, record.key_id, record.tenant_code, data_key
            )
            rewrapped.append(
                DataKeyRecord(
                    record.key_id, record.tenant_code, wrapped, record.created_at
                )
            )
        return rewrapped

    def encrypt(self, tenant_code: str, place: Place, plaintext: bytes) -> bytes:
        """Encrypt a value under the tenant's newest data key."""
        record = self.newest(tenant_code)
        if record is None:
            raise KeyringError(f"tenant {tenant_code!r} has no data key")
        header = (
            ENVELOPE_MAGIC + bytes([ENVELOPE_VERSION]) + bytes.fromhex(record.key_id)
        )
        nonce = os.urandom(NONCE_SIZE)
        aad = _associated_data(header, tenant_code, place)
        sealed = self._keys[record.key_id].encrypt(nonce, plaintext, aad)
        return Envelope(ENVELOPE_VERSION, record.key_id, nonce, sealed).to_bytes()

    def decrypt(self, tenant_code: str, place: Place, blob: bytes) -> bytes:
        """Decrypt an envelope stored at `place` for `tenant_code`.

        Raises UnknownDataKey when the key id is not loaded, and
        DecryptionError when the value belongs to another tenant, row or
        column, or was altered.
        """
        envelope = Envelope.parse(blob)
        record = self._records.get(envelope.key_id)
        if record is None:
            raise UnknownDataKey(
                f"cannot decrypt {place} in tenant {tenant_code!r}: data key "
                f"{envelope.key_id} not found"
            )
        if record.tenant_code != tenant_code:
            raise DecryptionError(
                f"cannot decrypt {place} in tenant {tenant_code!r}: it is "
                f"encrypted with data key {envelope.key_id} of tenant "
                f"{record.tenant_code!r}, so it was copied from another tenant"
            )
        aad = _associated_data(envelope.header, tenant_code, place)
        try:
            return self._keys[envelope.key_id].decrypt(
                envelope.nonce, envelope.ciphertext, aad
            )
        except InvalidTag:
            raise DecryptionError(
                f"cannot decrypt {place} in tenant {tenant_code!r} with data key "
                f"{envelope.key_id}: authentication failed, so the value was "
                "altered or copied from another row or column"
            ) from None

    def encrypt_text(self, tenant_code: str, place: Place, plaintext: str) -> str:
        blob = self.encrypt(tenant_code, place, plaintext.encode())
        return TEXT_PREFIX + base64.urlsafe_b64encode(blob).decode()

    def decrypt_text(self, tenant_code: str, place: Place, text: str) -> str:
        blob = self.decrypt(tenant_code, place, decode_text_envelope(text))
        return blob.decode()
