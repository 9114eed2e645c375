"""Secrets kept in files: the JWT secret and the master key of the keyring."""

import fcntl
import logging
import os
import secrets
import stat
from pathlib import Path

from ris_server.keyring import KEY_SIZE, KeyringError
from ris_server.pki import write_private

log = logging.getLogger(__name__)


class MasterKeyError(KeyringError):
    """The master key file is missing, unreadable, the wrong size or too open."""


def load_or_create_secret(path: Path, size: int = 32) -> bytes:
    """Return the secret in `path`, creating a random one (mode 0600) if absent."""
    if path.exists():
        data = path.read_bytes()
        if len(data) < size:
            raise ValueError(f"{path}: secret shorter than {size} bytes")
        return data
    log.info("creating secret file %s", path)
    data = secrets.token_bytes(size)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, data)
    return data


def read_master_key(path: Path) -> bytes:
    """Read the 32-byte master key from a regular file of mode 0600 or stricter."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise MasterKeyError(
            f"master key file {path} not found; restore it from backup (the "
            "encrypted data cannot be read without it)"
        ) from None
    except OSError as exc:
        raise MasterKeyError(f"cannot read master key file {path}: {exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise MasterKeyError(f"master key file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise MasterKeyError(
            f"master key file {path} has mode {mode:04o}, so group or others "
            f"can access it; run chmod 600 {path}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MasterKeyError(f"cannot read master key file {path}: {exc}") from None
    if len(data) != KEY_SIZE:
        raise MasterKeyError(
            f"master key file {path} contains {len(data)} bytes; it must contain "
            f"exactly {KEY_SIZE} random bytes"
        )
    return data


def create_master_key(path: Path) -> bytes:
    """Write a new random master key to `path` (mode 0600); the file must not exist."""
    if path.exists():
        raise MasterKeyError(f"master key file {path} already exists")
    log.info("creating master key file %s", path)
    data = secrets.token_bytes(KEY_SIZE)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, data)
    return data


def pending_master_key_path(path: Path) -> Path:
    """Return where a master key rotation keeps the new key until it commits."""
    return path.with_name(path.name + ".new")


def replace_master_key(path: Path) -> None:
    """Move the pending new master key over `path`, durably."""
    os.replace(pending_master_key_path(path), path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class MasterKeyLock:
    """An advisory lock (flock) on the master key file.

    A running hub takes it shared, and a master key rotation takes it exclusive,
    so the rotation cannot run while a hub uses the old key.
    """

    def __init__(self, path: Path, *, exclusive: bool) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDONLY)
        operation = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(self._fd, operation | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            holder = "a hub is running" if exclusive else "a key rotation is running"
            raise MasterKeyError(
                f"master key file {path} is locked: {holder} on it; stop it and retry"
            ) from None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
