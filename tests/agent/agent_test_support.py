"""Helpers shared by the agent tests: polling and a recording HTTP handler."""

import asyncio
import json
import time
from http.server import BaseHTTPRequestHandler

ENROLLMENT_TOKEN = "enroll-token-for-tests"
POLL_SECONDS = 0.02


async def wait_until(condition, timeout: float = 5.0, message: str = "condition"):
    """Poll ``condition`` until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        await asyncio.sleep(POLL_SECONDS)


class RecordingHandler(BaseHTTPRequestHandler):
    """Serves a few fixed routes and records each request it gets."""

    def _reply(self, status: int, body: bytes, headers: list | None = None) -> None:
        self.send_response(status)
        for name, value in headers or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {
                    name.lower(): value for name, value in self.headers.items()
                },
                "body": body,
            }
        )
        if self.path.startswith("/status/"):
            self._reply(int(self.path.rsplit("/", 1)[1]), b"status page")
        elif self.path == "/big":
            self._reply(200, b"x" * 100_000)
        elif self.path == "/slow":
            time.sleep(3)
            self._reply(200, b"late")
        elif self.path == "/cookies":
            cookies = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
            self._reply(200, b"cookies", cookies)
        else:
            echo = json.dumps({"method": self.command, "path": self.path}).encode()
            self._reply(200, b"hello " + echo, [("Content-Type", "text/plain")])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format, *args):  # keep test output quiet
        pass
