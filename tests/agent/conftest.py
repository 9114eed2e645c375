"""Fixtures for agent tests: a hub double, an enrolled data dir, a running agent
and a local HTTP server. Everything listens on 127.0.0.1 with kernel-chosen ports.
"""

import asyncio
import contextlib
import random
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from agent_hub_double import RunningHub, start_hub
from agent_pki import make_test_ca
from agent_test_support import ENROLLMENT_TOKEN, RecordingHandler

from ris_agent.agent import Agent, AgentSettings
from ris_agent.backoff import ReconnectPolicy
from ris_agent.enroll import EnrollOptions, enroll
from ris_agent.state import DataDir


@pytest.fixture
def ca():
    return make_test_ca()


@pytest.fixture
async def hub(ca):
    running = await start_hub(ca, {ENROLLMENT_TOKEN})
    yield running
    await running.server.stop(0)


@pytest.fixture
def ca_file(ca, tmp_path) -> Path:
    return ca.write_ca_file(tmp_path)


@pytest.fixture
async def data_dir(hub: RunningHub, ca_file: Path, tmp_path: Path) -> DataDir:
    """A data directory enrolled with the hub double through the real Enroll call."""
    directory = DataDir(tmp_path / "agent-data")
    await enroll(
        EnrollOptions(
            hub=hub.api_address,
            token=ENROLLMENT_TOKEN,
            ca_file=ca_file,
            data_dir=directory,
            hostname="test-host",
            timeout=5,
        )
    )
    return directory


class AgentHandle:
    def __init__(self, agent: Agent, task: asyncio.Task, stop: asyncio.Event):
        self.agent = agent
        self.task = task
        self.stop_event = stop

    async def stop(self) -> int:
        self.stop_event.set()
        return await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def start_agent(hub: RunningHub, data_dir: DataDir):
    """Start an in-process agent against the hub; stop it at teardown."""
    handles: list[AgentHandle] = []

    async def start(**overrides) -> AgentHandle:
        values = {
            "data_dir": data_dir,
            "endpoint": hub.agent_address,
            "hostname": "test-host",
            "max_concurrent": 4,
            "max_output_bytes": 64 * 1024,
            "heartbeat_interval": 1.0,
            "reconnect_policy": ReconnectPolicy(initial_delay=0.05, max_delay=0.2),
            "shutdown_grace": 1.0,
            "detect_docker": False,
        }
        values.update(overrides)
        agent = Agent(AgentSettings(**values), rng=random.Random(7))
        stop = asyncio.Event()
        handle = AgentHandle(agent, asyncio.create_task(agent.run(stop)), stop)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        if not handle.task.done():
            with contextlib.suppress(Exception):
                await handle.stop()


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    server.daemon_threads = True
    server.requests = []
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_base(http_server) -> str:
    host, port = http_server.server_address[:2]
    return f"http://{host}:{port}"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Keep httpx from sending test requests for 127.0.0.1 through a proxy."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
