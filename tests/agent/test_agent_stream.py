"""The running agent against the hub double: registration, tasks, reconnects."""

import asyncio
import io
import logging
import sys

import grpc
import psutil
import pytest
from agent_test_support import wait_until

from ris.v1 import task_pb2
from ris_agent import __version__
from ris_agent.backoff import ReconnectPolicy
from ris_agent.docker_executor import docker_usable
from ris_agent.executions_log import read_executions
from ris_agent.logs import configure_logging

COMPLETED = task_pb2.TASK_STATUS_COMPLETED
FAILED = task_pb2.TASK_STATUS_FAILED
CANCELLED = task_pb2.TASK_STATUS_CANCELLED


def _command(*argv: str, timeout: int = 0) -> task_pb2.TaskSpec:
    return task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_COMMAND,
        command=task_pb2.CommandTask(
            command=argv[0], args=list(argv[1:]), timeout=timeout
        ),
    )


def _sleep(seconds: float) -> task_pb2.TaskSpec:
    return _command(sys.executable, "-c", f"import time; time.sleep({seconds})")


def _executions(data_dir, task_id: str) -> list[dict]:
    return [
        entry
        for entry in read_executions(data_dir.executions_path)
        if entry["task_id"] == task_id
    ]


def _outbox_files(data_dir) -> list:
    return sorted(data_dir.outbox_dir.glob("*.result"))


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _session(hub, count: int = 1):
    await wait_until(lambda: len(hub.double.sessions) >= count, 10, f"session {count}")
    return hub.double.sessions[count - 1]


async def _result(session, task_id: str, count: int = 1, timeout: float = 10):
    await wait_until(
        lambda: len(session.results(task_id)) >= count, timeout, f"result of {task_id}"
    )
    return session.results(task_id)[count - 1]


async def test_agent_registers_and_heartbeats(hub, start_agent):
    await start_agent(detect_docker=True)

    session = await _session(hub)
    registration = session.registration
    assert registration.hostname == "test-host"
    assert registration.version == __version__
    expected = ["http_request", "command"]
    if await docker_usable():
        expected.append("docker_service")
    assert list(registration.capabilities) == expected
    assert registration.max_concurrent_tasks == 4
    assert registration.host_type.startswith(sys.platform)
    assert "/" in registration.host_type
    assert list(registration.running) == []
    assert session.peer_common_name == "client-1"

    await wait_until(lambda: session.messages("heartbeat"), 5, "a heartbeat")
    heartbeat = session.messages("heartbeat")[0]
    assert heartbeat.sequence == 1
    assert heartbeat.running_tasks == 0
    for percent in (
        heartbeat.resource_usage.cpu,
        heartbeat.resource_usage.memory,
        heartbeat.resource_usage.disk,
    ):
        assert 0.0 <= percent <= 100.0
    assert heartbeat.resource_usage.memory > 0


async def test_agent_runs_command_and_clears_outbox(hub, data_dir, start_agent):
    await start_agent()
    session = await _session(hub)

    session.assign("cmd-1", _command("echo", "hello"))
    result = await _result(session, "cmd-1")

    assert result.status == COMPLETED
    assert result.attempt == 1
    assert result.result.command_output.stdout == "hello\n"
    assert result.result.execution_time >= 0
    assert result.started_at.seconds > 0
    assert result.completed_at.ToDatetime() >= result.started_at.ToDatetime()
    assert len(_executions(data_dir, "cmd-1")) == 1
    await wait_until(lambda: not _outbox_files(data_dir), 5, "outbox to empty")


async def test_agent_runs_http_task(hub, start_agent, http_server, http_base):
    await start_agent()
    session = await _session(hub)
    spec = task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_HTTP_REQUEST,
        http_request=task_pb2.HttpRequestTask(
            method="GET",
            url=f"{http_base}/via-hub",
            auth=task_pb2.HttpAuth(
                type=task_pb2.HTTP_AUTH_TYPE_BEARER, bearer_token="b"
            ),
        ),
    )

    session.assign("http-1", spec)
    result = await _result(session, "http-1")

    assert result.status == COMPLETED
    assert result.result.http_response.status_code == 200
    assert http_server.requests[0]["headers"]["authorization"] == "Bearer b"


async def test_agent_rejects_mismatched_type(hub, start_agent):
    await start_agent()
    session = await _session(hub)
    spec = _command("true")
    spec.type = task_pb2.TASK_TYPE_HTTP_REQUEST

    session.assign("mismatch-1", spec)
    result = await _result(session, "mismatch-1")

    assert result.status == FAILED
    assert "does not match payload command" in result.result.error


async def test_agent_cancels_running_command(hub, data_dir, start_agent):
    await start_agent()
    session = await _session(hub)
    session.assign("cancel-1", _command("sh", "-c", "sleep 30 & echo $$ $!; sleep 30"))
    await wait_until(lambda: _executions(data_dir, "cancel-1"), 5, "task start")
    await asyncio.sleep(0.2)  # let the shell start its background sleep

    session.cancel("cancel-1", reason="operator request")
    result = await _result(session, "cancel-1", timeout=5)

    assert result.status == CANCELLED
    shell_pid, background_pid = map(int, result.result.command_output.stdout.split())
    assert _gone(shell_pid)
    await wait_until(lambda: _gone(background_pid), 3, "background sleep to end")


async def test_agent_ignores_repeated_running_assignment(hub, data_dir, start_agent):
    await start_agent()
    session = await _session(hub)

    session.assign("dup-1", _sleep(0.5))
    session.assign("dup-1", _sleep(0.5))
    await _result(session, "dup-1")
    await asyncio.sleep(0.3)  # a second run would report within this time

    assert len(_executions(data_dir, "dup-1")) == 1
    assert len(session.results("dup-1")) == 1


async def test_outbox_resent_after_drop_and_not_rerun(hub, data_dir, start_agent):
    hub.double.ack_results = False
    await start_agent()
    first = await _session(hub)
    first.assign("outbox-1", _command("echo", "once"))
    await _result(first, "outbox-1")
    assert len(_outbox_files(data_dir)) == 1

    first.drop()
    second = await _session(hub, 2)
    resent = await _result(second, "outbox-1")
    second.assign("outbox-1", _command("echo", "once"))
    again = await _result(second, "outbox-1", count=2)

    assert resent.result.command_output.stdout == "once\n"
    assert again == resent
    assert len(_executions(data_dir, "outbox-1")) == 1
    assert len(_outbox_files(data_dir)) == 1

    hub.double.ack_results = True
    second.drop()
    third = await _session(hub, 3)
    await _result(third, "outbox-1")
    await wait_until(lambda: not _outbox_files(data_dir), 5, "outbox to empty")
    third.assign("outbox-1", _command("echo", "once"))
    await asyncio.sleep(0.3)

    assert len(_executions(data_dir, "outbox-1")) == 1
    assert len(third.results("outbox-1")) == 1


async def test_registration_lists_running_task_after_drop(hub, data_dir, start_agent):
    await start_agent()
    first = await _session(hub)
    first.assign("long-1", _sleep(1.5), attempt=2)
    await wait_until(lambda: _executions(data_dir, "long-1"), 5, "task start")

    first.drop()
    second = await _session(hub, 2)

    running = [(task.task_id, task.attempt) for task in second.registration.running]
    assert running == [("long-1", 2)]
    result = await _result(second, "long-1")
    assert result.status == COMPLETED
    assert result.attempt == 2


async def test_concurrency_limit_queues_assignments(hub, data_dir, start_agent, caplog):
    caplog.set_level(logging.WARNING, logger="ris_agent.runner")
    await start_agent(max_concurrent=1)
    session = await _session(hub)

    session.assign("queue-a", _sleep(0.3))
    session.assign("queue-b", _sleep(0.3))
    first = await _result(session, "queue-a")
    second = await _result(session, "queue-b")

    assert first.status == COMPLETED
    assert second.status == COMPLETED
    assert second.started_at.ToDatetime() >= first.completed_at.ToDatetime()
    assert any("queued task queue-b" in record.message for record in caplog.records)


async def test_queued_task_cancelled_without_running(hub, data_dir, start_agent):
    await start_agent(max_concurrent=1)
    session = await _session(hub)
    session.assign("busy-1", _sleep(30))
    session.assign("waiting-1", _command("echo", "never"))
    await wait_until(lambda: _executions(data_dir, "busy-1"), 5, "task start")

    session.cancel("waiting-1")
    result = await _result(session, "waiting-1")
    session.cancel("busy-1")
    await _result(session, "busy-1")

    assert result.status == CANCELLED
    assert "before it started" in result.result.error
    assert not result.HasField("started_at")
    assert _executions(data_dir, "waiting-1") == []


async def test_rejected_agent_retries_and_logs_error(hub, start_agent, caplog):
    caplog.set_level(logging.WARNING, logger="ris_agent.connection")
    hub.double.reject_connect = grpc.StatusCode.PERMISSION_DENIED
    await start_agent()

    await wait_until(lambda: hub.double.rejected_connects >= 2, 5, "two rejections")
    hub.double.reject_connect = None
    await _session(hub)

    errors = [
        record
        for record in caplog.records
        if record.levelno == logging.ERROR and "PERMISSION_DENIED" in record.message
    ]
    assert errors
    reconnects = [
        record for record in caplog.records if "reconnect attempt" in record.message
    ]
    assert reconnects


async def test_agent_gives_up_after_max_attempts(hub, start_agent):
    hub.double.reject_connect = grpc.StatusCode.UNAUTHENTICATED
    policy = ReconnectPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.02)

    handle = await start_agent(reconnect_policy=policy)
    code = await asyncio.wait_for(handle.task, 5)

    assert code == 1
    assert hub.double.rejected_connects == 3  # the first connect and 2 reconnects


async def test_drain_leads_to_reconnect(hub, start_agent):
    await start_agent()
    first = await _session(hub)

    first.drain(reconnect_after=0)
    second = await _session(hub, 2)

    assert first.ended.is_set()
    assert second.registration.hostname == "test-host"


async def test_stop_reports_killed_task_after_restart(hub, data_dir, start_agent):
    handle = await start_agent(shutdown_grace=0.2)
    first = await _session(hub)
    hub.double.ack_results = False
    first.assign("stop-1", _sleep(30))
    await wait_until(lambda: _executions(data_dir, "stop-1"), 5, "task start")

    code = await handle.stop()

    assert code == 0
    assert len(_outbox_files(data_dir)) == 1

    hub.double.ack_results = True
    await start_agent()
    second = await _session(hub, 2)
    result = await _result(second, "stop-1")
    assert result.status == FAILED
    assert "agent stopped before the task finished" in result.result.error
    await wait_until(lambda: not _outbox_files(data_dir), 5, "outbox to empty")


async def test_silent_hub_stream_is_replaced(hub, start_agent, caplog):
    caplog.set_level(logging.WARNING, logger="ris_agent.connection")
    hub.double.ack_heartbeats = False
    hub.double.connection_timeout = 2  # seconds; heartbeats come every second
    await start_agent()
    await _session(hub)

    await _session(hub, 2)

    assert any("no message from the hub" in r.message for r in caplog.records)


@pytest.mark.parametrize("payload", ["docker_service"])
async def test_agent_without_executor_fails_task(hub, start_agent, payload):
    await start_agent()
    session = await _session(hub)
    spec = task_pb2.TaskSpec(
        type=task_pb2.TASK_TYPE_DOCKER_SERVICE,
        docker_service=task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_STATUS, service_name="web"
        ),
    )

    session.assign("no-docker-1", spec)
    result = await _result(session, "no-docker-1")

    assert result.status == FAILED
    assert f"unsupported task payload {payload}" in result.result.error


@pytest.fixture
def text_log(monkeypatch):
    """Attach the handler that configure_logging builds for the text format to
    the ris_agent logger, writing to a string, and leave the root logger as
    pytest set it."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    httpx_logger = logging.getLogger("httpx")
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_httpx_level = httpx_logger.level
    configure_logging("WARNING", "text")
    (handler,) = root.handlers
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    httpx_logger.setLevel(saved_httpx_level)
    agent_logger = logging.getLogger("ris_agent")
    agent_logger.addHandler(handler)
    yield stream
    agent_logger.removeHandler(handler)


async def test_text_log_escapes_task_id(hub, start_agent, text_log):
    await start_agent()
    session = await _session(hub)

    session.cancel("t\x00garbage\nWARNING forged line\r")
    await wait_until(
        lambda: "ignoring cancellation" in text_log.getvalue(), 5, "the log line"
    )

    output = text_log.getvalue()
    lines = output.splitlines()
    (line,) = [line for line in lines if "ignoring cancellation" in line]
    assert "task t\\x00garbage\\nWARNING forged line\\r attempt 1" in line
    assert "\x00" not in output
    assert "\r" not in output
    assert not [line for line in lines if line.startswith("WARNING forged")]
