"""Outbox: result reports kept on disk until the hub acknowledges them.

Each entry is written before its report is sent and removed on ``ResultAck``, so
a result survives a lost stream or an agent restart and is sent again after the
next registration.
"""

import logging
import os
from pathlib import Path

from ris.v1 import agent_pb2
from ris_agent.files import write_file_atomic
from ris_agent.outbox_format import (
    OUTBOX_SUFFIX,
    decode_result,
    encode_result,
    outbox_entry_name,
)

logger = logging.getLogger(__name__)

_CORRUPT_SUFFIX = ".corrupt"


class Outbox:
    """Directory of unacknowledged result reports, one file per task attempt."""

    def __init__(self, directory: Path):
        """Create the directory (mode 0700) and delete temp files of crashed writes."""
        self._directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in directory.glob(".tmp-*"):
            logger.warning("removing incomplete outbox write %s", path)
            path.unlink(missing_ok=True)

    @property
    def directory(self) -> Path:
        return self._directory

    def _path(self, task_id: str, attempt: int) -> Path:
        return self._directory / outbox_entry_name(task_id, attempt)

    def write(self, report: agent_pb2.ResultReport) -> None:
        """Store a report durably (fsync, atomic rename). Raises OSError."""
        path = self._path(report.task_id, report.attempt)
        write_file_atomic(path, encode_result(report), 0o600)

    def get(self, task_id: str, attempt: int) -> agent_pb2.ResultReport | None:
        """Return the stored report of a task attempt, or None if there is none."""
        path = self._path(task_id, attempt)
        try:
            return decode_result(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            logger.error("cannot read outbox entry %s: %s", path, error)
            return None

    def remove(self, task_id: str, attempt: int) -> bool:
        """Delete the entry of a task attempt; return whether one existed.

        The removal is not fsynced: after a crash the report is at worst sent
        again, and the hub acknowledges a repeated report again.
        """
        try:
            self._path(task_id, attempt).unlink()
        except FileNotFoundError:
            return False
        return True

    def load_all(self) -> list[agent_pb2.ResultReport]:
        """Return all stored reports, oldest first.

        A corrupt entry is renamed with the suffix ".corrupt" and logged, so that it
        is not read again.
        """
        paths = sorted(
            self._directory.glob("*" + OUTBOX_SUFFIX), key=_modification_time
        )
        reports = []
        for path in paths:
            try:
                reports.append(decode_result(path.read_bytes()))
            except FileNotFoundError:
                continue  # a ResultAck removed it after the listing
            except (OSError, ValueError) as error:
                logger.error("setting aside corrupt outbox entry %s: %s", path, error)
                _set_aside(path)
        return reports


def _modification_time(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _set_aside(path: Path) -> None:
    try:
        os.replace(path, path.with_name(path.name + _CORRUPT_SUFFIX))
    except OSError as error:
        logger.error("cannot rename corrupt outbox entry %s: %s", path, error)
