"""In-process hubs on 127.0.0.1 port 0, each with a real SQLite file."""

import grpc
import pytest

from ris_server.app import HubServer
from ris_server.bootstrap import PASSWORD_ENV
from tests.support import ADMIN_PASSWORD, Api, local_hub_config


@pytest.fixture
async def hub_factory(tmp_path, monkeypatch):
    """Start hubs with config sections merged over the quick test timings."""
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    servers: list[HubServer] = []

    async def start(**sections) -> HubServer:
        config = local_hub_config(tmp_path / f"hub{len(servers)}", **sections)
        server = HubServer(config)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop(grace=0.5)


@pytest.fixture
async def hub_server(hub_factory):
    return await hub_factory()


async def connect_api(server: HubServer):
    hub = server.hub
    credentials = grpc.ssl_channel_credentials(hub.ca.ca_pem)
    return grpc.aio.secure_channel(hub.endpoints.grpc, credentials)


@pytest.fixture
async def api(hub_server):
    async with await connect_api(hub_server) as channel:
        client = Api(channel)
        await client.login()
        yield client
