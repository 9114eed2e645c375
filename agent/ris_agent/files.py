"""Durable file writes: temp file, fsync, atomic rename."""

import os
import tempfile
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Flush a directory entry change (create, rename) to disk."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_file_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file.

    The temp file is created with ``mode`` before any data is written, so a private
    key is never readable by others, not even briefly. Raises OSError.
    """
    descriptor, temp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
