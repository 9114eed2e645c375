"""Logging setup for the ris-agent command: text or JSON lines on stderr."""

import copy
import json
import logging
import re
import sys
from datetime import UTC, datetime

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# C0 controls, DEL and C1 controls, the line and paragraph separators that
# str.splitlines and some log viewers treat as line breaks, and lone
# surrogates, which a UTF-8 stream cannot encode.
_UNSAFE_IN_TEXT_LOG = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_for_log(text: str) -> str:
    """Escape control characters, line separators and lone surrogates as
    backslash sequences, so that one message stays on one line."""
    return _UNSAFE_IN_TEXT_LOG.sub(_escape_character, text)


def _escape_character(match: re.Match[str]) -> str:
    character = match.group()
    short = _SHORT_ESCAPES.get(character)
    if short is not None:
        return short
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class TextFormatter(logging.Formatter):
    """Formats a record as one text line with control characters in the
    message escaped, because messages carry values from the hub such as task
    ids. An exception's traceback still follows on its own lines."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        # A copy, because other handlers format the same record.
        escaped = copy.copy(record)
        escaped.msg = escape_for_log(record.getMessage())
        escaped.args = None
        return super().format(escaped)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """Send all log records at ``level`` or above to stderr in the given format."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and a task's query string may hold a key.
    logging.getLogger("httpx").setLevel(logging.WARNING)
