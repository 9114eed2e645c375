"""Append-only log of task starts, ``executions.jsonl`` in the data directory.

Each line is a JSON object ``{"task_id": str, "attempt": int, "started_at": str}``
with ``started_at`` in ISO 8601 UTC. Counting the lines of one task attempt shows
whether the agent ran it more than once.
"""

import json
import os
from datetime import datetime
from pathlib import Path


class ExecutionsLog:
    """Writer of executions.jsonl."""

    def __init__(self, path: Path):
        self._path = path

    @property
    def path(self) -> Path:
        return self._path

    def record_start(self, task_id: str, attempt: int, started_at: datetime) -> None:
        """Append one line and fsync it before the task starts. Raises OSError."""
        line = json.dumps(
            {
                "task_id": task_id,
                "attempt": attempt,
                "started_at": started_at.isoformat(),
            }
        )
        with self._path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def read_executions(path: Path) -> list[dict]:
    """Return the entries of an executions log; an absent file has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]
