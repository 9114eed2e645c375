"""An in-process hub on 127.0.0.1 port 0 with a real SQLite file per test."""

import grpc
import pytest

from ris_server.app import HubServer
from ris_server.bootstrap import PASSWORD_ENV
from ris_server.config import load_config
from tests.support import ADMIN_PASSWORD, Api, write_config


@pytest.fixture
async def hub_server(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    config_path = write_config(tmp_path / "config.json")
    config = load_config(
        env={"CONFIG_PATH": str(config_path)},
        overrides={
            ("server", "data_dir"): str(tmp_path / "data"),
            ("server", "host"): "127.0.0.1",
            ("server", "grpc_port"): 0,
            ("server", "agent_port"): 0,
            ("server", "edge_enabled"): False,
            ("monitoring", "metrics", "enabled"): False,
        },
    )
    server = HubServer(config)
    await server.start()
    yield server
    await server.stop(grace=0.5)


@pytest.fixture
async def api(hub_server):
    hub = hub_server.hub
    credentials = grpc.ssl_channel_credentials(hub.ca.ca_pem)
    async with grpc.aio.secure_channel(hub.endpoints.grpc, credentials) as channel:
        client = Api(channel)
        await client.login()
        yield client
