"""Tenant storage and bandwidth quotas, and the deletion of old task history."""

import time

import grpc
import pytest

from ris.v1 import task_pb2, tenant_pb2
from ris_server import rbac, tenant_quotas
from ris_server.tenant_quotas import BandwidthBudgets, purge_history
from tests.server.test_api import add_client, add_user, http_spec, rpc_error
from tests.server.test_orchestration import connected_agent, next_of, submit


def test_budget_allows_within_rate():
    budgets = BandwidthBudgets()

    first = budgets.take("t", 600, rate=1000, now=0.0)
    second = budgets.take("t", 600, rate=1000, now=0.0)
    later = budgets.take("t", 600, rate=1000, now=1.0)

    assert first == 0
    assert second == pytest.approx(0.2)
    assert later == 0


def test_result_debt_delays_next_take():
    budgets = BandwidthBudgets()
    budgets.charge("t", 3000, rate=1000, now=0.0)

    wait = budgets.take("t", 100, rate=1000, now=0.0)

    assert wait == pytest.approx(2.1)


def test_oversized_payload_waits_for_full_budget():
    budgets = BandwidthBudgets()
    budgets.take("t", 500, rate=1000, now=0.0)

    wait = budgets.take("t", 5000, rate=1000, now=0.0)

    assert wait == pytest.approx(0.5)


async def tenant_api(api, hub_server, **limits):
    await api.tenants.CreateTenant(
        tenant_pb2.CreateTenantRequest(
            code="quota",
            name="Quota",
            limits=tenant_pb2.ResourceLimits(**limits),
        ),
        metadata=api.metadata,
    )
    await add_user(hub_server, "quota", "ops@quota", rbac.ADMIN)
    await api.login("ops@quota", "pw-ops@quota", "quota")
    return await add_client(api, "quota-client")


def large_spec(size: int):
    return http_spec(f"http://127.0.0.1:9/{'x' * size}")


async def test_storage_quota_rejects_submit(api, hub_server, monkeypatch):
    # One "GB" of 2,000 bytes keeps the test small.
    monkeypatch.setattr(tenant_quotas, "GB", 2000)
    client = await tenant_api(api, hub_server, max_storage_gb=1)

    await submit(api, client, spec=large_spec(900))
    await submit(api, client, spec=large_spec(900))
    over = await rpc_error(submit(api, client, spec=large_spec(900)))

    assert over.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "storage quota" in over.details()
    assert dict(over.trailing_metadata())["retry-after"] == "30"


async def test_bandwidth_quota_rejects_burst(api, hub_server, monkeypatch):
    # One "MB" of 1,000 bytes: the tenant may send 1,000 bytes per second.
    monkeypatch.setattr(tenant_quotas, "MB", 1000)
    client = await tenant_api(api, hub_server, max_bandwidth_mbs=1)

    await submit(api, client, spec=large_spec(700))
    over = await rpc_error(submit(api, client, spec=large_spec(700)))

    assert over.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "bandwidth quota of 1 MB/s" in over.details()
    assert int(dict(over.trailing_metadata())["retry-after"]) >= 1


async def test_unlimited_tenant_never_checked(api, hub_server, monkeypatch):
    monkeypatch.setattr(tenant_quotas, "GB", 1)
    monkeypatch.setattr(tenant_quotas, "MB", 1)
    client = await add_client(api)

    tasks = [await submit(api, client, spec=large_spec(900)) for _ in range(3)]

    assert len(tasks) == 3


async def test_history_purge_keeps_active_tasks(hub_server, api):
    client, agent = await connected_agent(hub_server, api)
    done = await submit(api, client)
    assignment, _ = await next_of(agent, "assignment")
    await agent.send_result(assignment.task_id, 1, task_pb2.TASK_STATUS_COMPLETED)
    await next_of(agent, "result_ack")
    waiting = await submit(api, client, spec=http_spec("http://127.0.0.1:9/y"))
    store = hub_server.hub.store

    too_soon = await purge_history(store, 3600, time.time())
    deleted = await purge_history(store, 1, time.time() + 10)
    purged = await rpc_error(
        api.tasks.GetTask(
            task_pb2.GetTaskRequest(task_id=done.task_id), metadata=api.metadata
        )
    )
    active = await api.tasks.GetTask(
        task_pb2.GetTaskRequest(task_id=waiting.task_id), metadata=api.metadata
    )
    await agent.close()

    assert assignment.task_id == done.task_id
    assert too_soon == 0
    assert deleted == 1
    assert purged.code() == grpc.StatusCode.NOT_FOUND
    assert active.task.task_id == waiting.task_id


async def test_zero_retention_keeps_history(hub_server):
    assert await purge_history(hub_server.hub.store, 0, time.time() + 10**9) == 0
