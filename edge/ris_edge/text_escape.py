"""Escaping of request-derived text for error messages and log lines."""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls, the line and paragraph separators that
# str.splitlines and some log viewers treat as line breaks, and lone
# surrogates, which a UTF-8 log stream cannot encode.
_LOG_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_unencodable(text: str) -> str:
    """Replace each character that UTF-8 cannot encode (a lone surrogate, which
    a JSON string may spell as ``\\ud800``) with its ``\\uXXXX`` escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def escape_for_log(text: str) -> str:
    """Escape control characters, line separators and lone surrogates as
    backslash sequences, so that request data cannot start a new log line or
    break the log's encoding."""
    return _LOG_UNSAFE.sub(_escape_character, text)


def _escape_character(match: re.Match[str]) -> str:
    character = match.group()
    short = _SHORT_ESCAPES.get(character)
    if short is not None:
        return short
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
