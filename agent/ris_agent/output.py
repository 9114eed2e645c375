"""Output limits: bounded buffers for process and HTTP output, and their decoding.

Pure logic without I/O.
"""

import codecs


class OutputBuffer:
    """Buffer that keeps the first ``limit`` bytes appended and counts the rest.

    Callers should keep appending past the limit, because reading on keeps a child
    process from blocking on a full pipe. The extra bytes are discarded.
    """

    def __init__(self, limit: int):
        if limit < 0:
            raise ValueError(f"invalid output limit {limit}: must be 0 or more")
        self._limit = limit
        self._chunks: list[bytes] = []
        self._kept_bytes = 0
        self._total = 0

    def append(self, chunk: bytes) -> None:
        self._total += len(chunk)
        room = self._limit - self._kept_bytes
        if room <= 0:
            return
        prefix = chunk[:room]
        self._chunks.append(prefix)
        self._kept_bytes += len(prefix)

    @property
    def data(self) -> bytes:
        """The kept bytes, at most ``limit``."""
        return b"".join(self._chunks)

    @property
    def truncated(self) -> bool:
        """Whether bytes past the limit were discarded."""
        return self._total > self._kept_bytes

    @property
    def total_bytes(self) -> int:
        """Bytes appended in all, kept or discarded."""
        return self._total


def decode_output(
    data: bytes, truncated: bool, limit: int, encoding: str = "utf-8"
) -> tuple[str, bool]:
    """Decode output to text whose UTF-8 encoding fits in ``limit`` bytes.

    Invalid bytes become U+FFFD. When ``truncated`` is set, a multibyte character
    cut at the end of ``data`` is dropped instead of replaced. An unknown encoding
    falls back to UTF-8. Because a replacement character takes 3 bytes, text from
    invalid input can outgrow the limit and is cut again. Returns the text and
    whether anything was cut, including the earlier truncation.
    """
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=not truncated)

    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text, truncated
    return encoded[:limit].decode("utf-8", errors="ignore"), True
