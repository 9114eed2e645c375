"""Secrets kept in the data directory: the JWT secret and the master key."""

import logging
import secrets
from pathlib import Path

from ris_server.pki import write_private

log = logging.getLogger(__name__)


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
