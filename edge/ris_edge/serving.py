"""Running the edge with uvicorn inside an existing asyncio event loop.

A host process such as the hub starts the edge next to its gRPC server::

    edge = await EdgeServer.start(settings, host="127.0.0.1", port=8057)
    ...
    await edge.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn

from ris_edge.app import create_app
from ris_edge.settings import EdgeSettings

logger = logging.getLogger(__name__)


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn server that leaves SIGINT and SIGTERM to the host process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class EdgeServer:
    """The edge app served by uvicorn as a task of the running event loop."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        self._server = server
        self._task = task
        self._port = 0

    @classmethod
    async def start(
        cls,
        settings: EdgeSettings,
        host: str = "127.0.0.1",
        port: int = 8057,
        *,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_ciphers: str = "ECDHE+AESGCM:ECDHE+CHACHA20",
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
    ) -> EdgeServer:
        """Serve the edge on ``host:port`` (port 0 picks a free port) and return
        once it accepts connections.

        ``shutdown_timeout`` is how many seconds ``stop`` waits for requests in
        flight before it cancels them. Raises RuntimeError when the server
        cannot start, for example because the port is taken.
        """
        config = uvicorn.Config(
            create_app(settings),
            host=host,
            port=port,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            ssl_ciphers=ssl_ciphers,
            lifespan="on",
            # The edge appends the peer address to X-Forwarded-For itself, so
            # uvicorn must not replace the peer address from that header.
            proxy_headers=False,
            log_config=None,
            timeout_graceful_shutdown=shutdown_timeout,
        )
        server = _EmbeddedUvicorn(config)
        task = asyncio.create_task(_serve(server, f"{host}:{port}"))
        edge = cls(server, task)
        await edge._wait_started(startup_timeout)
        logger.info("REST edge listening on %s:%d", host, edge.port)
        return edge

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on, or listened on once stopped."""
        return self._port

    async def stop(self) -> None:
        """Stop accepting connections, finish or cancel requests in flight, run
        the app's shutdown (which closes the backend channel) and wait for all."""
        self._server.should_exit = True
        await self._task
        logger.info("REST edge stopped")

    async def _wait_started(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("REST edge stopped during startup; see the log")
            if loop.time() > deadline:
                await self.stop()
                raise RuntimeError(f"REST edge did not start within {timeout} s")
            await asyncio.sleep(0.01)
        self._port = self._server.servers[0].sockets[0].getsockname()[1]


async def _serve(server: uvicorn.Server, address: str) -> None:
    try:
        await server.serve()
    except SystemExit as error:
        # uvicorn calls sys.exit when it cannot bind; turn that into an error
        # of this task instead of letting it stop the host's event loop.
        raise RuntimeError(
            f"REST edge failed to start on {address}; see the log"
        ) from error
