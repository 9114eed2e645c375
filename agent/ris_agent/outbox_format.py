"""Outbox entry format: file names and serialization of result reports.

Pure logic without I/O. An entry is one serialized ``ResultReport`` in a file
named after its task id and attempt.
"""

import hashlib
import re

from google.protobuf.message import DecodeError

from ris.v1 import agent_pb2

OUTBOX_SUFFIX = ".result"

# Task ids are UUIDs. Any other id is hashed, so that an id from the hub cannot
# name a path outside the outbox or exceed the file name length limit.
_SAFE_TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def outbox_entry_name(task_id: str, attempt: int) -> str:
    """Return the file name of the outbox entry for one task attempt."""
    if _SAFE_TASK_ID.fullmatch(task_id):
        stem = task_id
    else:
        stem = "~" + hashlib.sha256(task_id.encode("utf-8")).hexdigest()
    return f"{stem}.{attempt}{OUTBOX_SUFFIX}"


def encode_result(report: agent_pb2.ResultReport) -> bytes:
    """Serialize a result report for the outbox."""
    return report.SerializeToString(deterministic=True)


def decode_result(data: bytes) -> agent_pb2.ResultReport:
    """Parse an outbox entry. Raises ValueError for corrupt data or no task id."""
    report = agent_pb2.ResultReport()
    try:
        report.ParseFromString(data)
    except DecodeError as error:
        raise ValueError(f"corrupt result report: {error}") from error
    if not report.task_id:
        raise ValueError("corrupt result report: missing task_id")
    return report
