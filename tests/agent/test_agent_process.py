"""The agent as a real process: ``python -m ris_agent run`` and its signals."""

import asyncio
import json
import signal
import sys

from agent_test_support import wait_until

from ris.v1 import task_pb2


async def _start_agent_process(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ris_agent",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_agent_process_stops_on_sigterm(hub, data_dir):
    process = await _start_agent_process(
        "run", "--data-dir", str(data_dir.root), "--log-format", "json"
    )
    try:
        await wait_until(lambda: hub.double.sessions, 15, "the agent to register")
        session = hub.last_session
        session.assign(
            "process-1",
            task_pb2.TaskSpec(
                type=task_pb2.TASK_TYPE_COMMAND,
                command=task_pb2.CommandTask(command="echo", args=["from", "process"]),
            ),
        )
        await wait_until(lambda: session.results("process-1"), 10, "the result")

        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0
    result = session.results("process-1")[0]
    assert result.status == task_pb2.TASK_STATUS_COMPLETED
    assert result.result.command_output.stdout == "from process\n"

    records = [json.loads(line) for line in stderr.decode().splitlines()]
    messages = [record["message"] for record in records]
    assert any(message.startswith("registered with") for message in messages)
    assert "received SIGTERM, stopping" in messages
    assert messages[-1] == "agent stopped"
    key_body = data_dir.key_path.read_text().splitlines()[1]
    assert key_body not in stderr.decode()


async def test_agent_process_not_enrolled_exits_1(tmp_path):
    process = await _start_agent_process("run", "--data-dir", str(tmp_path / "empty"))
    _, stderr = await asyncio.wait_for(process.communicate(), 15)

    assert process.returncode == 1
    assert b"agent is not enrolled" in stderr
    assert b"ris-agent enroll" in stderr


async def test_agent_process_bad_flag_exits_2(tmp_path):
    process = await _start_agent_process("run", "--max-concurrent", "0")
    _, stderr = await asyncio.wait_for(process.communicate(), 15)

    assert process.returncode == 2
    assert b"out of range" in stderr
