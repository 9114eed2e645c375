"""Certificate renewal with real processes: a short-lived agent certificate."""

import asyncio
import signal
import time

import pytest

from ris.v1 import client_pb2, task_pb2
from tests.e2e.conftest import HubProcess
from tests.e2e.test_end_to_end import wait_task
from tests.e2e.test_faults import add_enrolled_agent, sleep_task
from tests.support import Api, write_config

# 20 seconds. The agent renews at half the lifetime, so the first renewal
# comes about 10 seconds after enrollment.
CERT_DAYS = 20 / 86400


@pytest.fixture
def started_agents():
    agents = []
    yield agents
    for agent in agents:
        agent.stop(signal.SIGKILL)


async def wait_renewed(api: Api, client_id: int, timeout: float = 40.0):
    """Return the certificate list once a renewed certificate has been used."""
    deadline = time.monotonic() + timeout
    while True:
        listing = await api.clients.ListClientCertificates(
            client_pb2.ListClientCertificatesRequest(id=client_id),
            metadata=api.metadata,
        )
        used = [
            cert
            for cert in listing.certificates
            if cert.replaces_serial and cert.HasField("first_used_at")
        ]
        if used:
            return listing.certificates, used[-1]
        assert time.monotonic() < deadline, "no renewed certificate was used"
        await asyncio.sleep(0.25)


async def test_agent_renews_certificate_mid_task(tmp_path, started_agents):
    hub = HubProcess(tmp_path)
    hub.config_path = write_config(
        tmp_path / "config.json", client_management={"client_cert_days": CERT_DAYS}
    )
    hub.start()
    try:
        async with hub.channel() as channel:
            api = Api(channel)
            await api.login()
            client, agent = await add_enrolled_agent(
                api, hub, tmp_path, started_agents, "--renew-fraction", "0.5"
            )
            first = (
                await api.clients.ListClientCertificates(
                    client_pb2.ListClientCertificatesRequest(id=client.id),
                    metadata=api.metadata,
                )
            ).certificates
            assert len(first) == 1
            enrolled_serial = first[0].serial
            task = (
                await api.tasks.ExecuteTask(
                    task_pb2.ExecuteTaskRequest(
                        client_id=client.unique_client_id,
                        task=sleep_task("14"),
                        run_async=True,
                    ),
                    metadata=api.metadata,
                )
            ).task

            certificates, renewed = await wait_renewed(api, client.id)
            assert renewed.replaces_serial == enrolled_serial
            old = next(c for c in certificates if c.serial == enrolled_serial)
            assert old.HasField("revoked_at")
            assert old.revocation_reason.startswith("replaced by renewed")
            # The task was still running when the agent switched certificates.
            running = await api.tasks.GetTask(
                task_pb2.GetTaskRequest(task_id=task.task_id), metadata=api.metadata
            )
            assert running.task.status == task_pb2.TASK_STATUS_RUNNING

            done = await wait_task(api, task.task_id, timeout=40)
            assert done.status == task_pb2.TASK_STATUS_COMPLETED
            assert done.attempt == 1
            runs = [e for e in agent.executions() if e["task_id"] == task.task_id]
            assert len(runs) == 1

            log = agent.log_path.read_text()
            assert "installed renewed certificate" in log
            assert f"certificate {renewed.serial}" in log
            key_mode = (agent.data_dir / "agent.key").stat().st_mode & 0o777
            assert key_mode == 0o600
    finally:
        hub.stop()
