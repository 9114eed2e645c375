"""The running agent: executors, task runner and hub connection, with shutdown."""

import asyncio
import contextlib
import logging
import random
import signal
from dataclasses import dataclass, field

from ris.v1 import agent_pb2
from ris_agent import __version__
from ris_agent.backoff import Backoff, ReconnectPolicy
from ris_agent.command_executor import CAPABILITY as COMMAND
from ris_agent.command_executor import execute_command
from ris_agent.connection import HubConnection, ReconnectLimitReached
from ris_agent.docker_executor import CAPABILITY as DOCKER_SERVICE
from ris_agent.docker_executor import docker_usable, execute_docker_service
from ris_agent.execution import Executor
from ris_agent.executions_log import ExecutionsLog
from ris_agent.host import ResourceProbe, host_type
from ris_agent.http_executor import CAPABILITY as HTTP_REQUEST
from ris_agent.http_executor import execute_http_request
from ris_agent.outbox import Outbox
from ris_agent.renewal import DEFAULT_RENEW_FRACTION, CertificateRenewer
from ris_agent.runner import RunnerLimits, TaskRunner
from ris_agent.state import DataDir

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONCURRENT = 4
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
DEFAULT_SHUTDOWN_GRACE_SECONDS = 10.0
# grpcio's default limit for a received message, which a hub may keep.
_HUB_DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class AgentSettings:
    """Everything ``ris-agent run`` needs, from the state file and the command line."""

    data_dir: DataDir
    endpoint: str
    """Hub agent endpoint as "HOST:PORT"."""
    hostname: str
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    allow_privileged: bool = False
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    heartbeat_interval: float = 30.0
    """Seconds; the RegistrationAck's value takes precedence."""
    reconnect_policy: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    """Seconds that running tasks get to finish after a stop signal."""
    detect_docker: bool = True
    unique_client_id: str = ""
    tenant_code: str = ""
    renew_fraction: float = DEFAULT_RENEW_FRACTION
    """Renew the certificate when less than this fraction of its lifetime is
    left; 0 turns renewal off."""


async def build_executors(detect_docker: bool) -> dict[str, Executor]:
    """Return the executors by capability.

    docker_service is included only when ``docker info`` succeeds.
    """
    executors: dict[str, Executor] = {
        HTTP_REQUEST: execute_http_request,
        COMMAND: execute_command,
    }
    if detect_docker and await docker_usable():
        executors[DOCKER_SERVICE] = execute_docker_service
    return executors


class Agent:
    """One agent process: connects, runs tasks and stops on request."""

    def __init__(self, settings: AgentSettings, rng: random.Random | None = None):
        self._settings = settings
        self._rng = rng
        self.runner: TaskRunner | None = None

    async def run(self, stop_event: asyncio.Event) -> int:
        """Run until ``stop_event`` is set; return the exit code.

        Returns 0 after a stop and 1 when the reconnect attempts are used up. On
        stop, the agent takes no new tasks, gives running ones shutdown_grace
        seconds and then kills them, reporting them as FAILED on the next start.
        """
        settings = self._settings
        runner = await self._build_runner()
        self.runner = runner
        registration = agent_pb2.Registration(
            hostname=settings.hostname,
            version=__version__,
            capabilities=runner.capabilities,
            max_concurrent_tasks=settings.max_concurrent,
            host_type=host_type(),
            unique_client_id=settings.unique_client_id,
            tenant_code=settings.tenant_code,
        )
        connection = HubConnection(
            endpoint=settings.endpoint,
            data_dir=settings.data_dir,
            runner=runner,
            registration=registration,
            heartbeat_interval=settings.heartbeat_interval,
            backoff=Backoff(settings.reconnect_policy, self._rng),
            resource_probe=ResourceProbe(settings.data_dir.root),
        )
        logger.info(
            "agent %s starting: capabilities %s, max_concurrent_tasks %d",
            __version__,
            ", ".join(runner.capabilities),
            settings.max_concurrent,
        )

        connection_task = asyncio.create_task(connection.run())
        renewal_task = None
        if settings.renew_fraction > 0:
            renewer = CertificateRenewer(
                settings.endpoint,
                settings.data_dir,
                settings.renew_fraction,
                lambda serial: connection.request_reconnect(
                    f"certificate renewed (serial {serial})"
                ),
            )
            renewal_task = asyncio.create_task(renewer.run())
        stop_wait = asyncio.create_task(stop_event.wait())
        await asyncio.wait(
            {connection_task, stop_wait}, return_when=asyncio.FIRST_COMPLETED
        )
        stop_wait.cancel()
        if renewal_task is not None:
            renewal_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal_task
        exit_code = await self._shut_down(runner, connection_task)
        logger.info("agent stopped")
        return exit_code

    async def _build_runner(self) -> TaskRunner:
        settings = self._settings
        if 2 * settings.max_output_bytes >= _HUB_DEFAULT_MAX_MESSAGE_BYTES:
            logger.warning(
                "--max-output-bytes %d: a command result may exceed 4 MiB, the "
                "default gRPC message limit, unless the hub raised its limit",
                settings.max_output_bytes,
            )
        return TaskRunner(
            executors=await build_executors(settings.detect_docker),
            limits=RunnerLimits(
                max_concurrent=settings.max_concurrent,
                max_output_bytes=settings.max_output_bytes,
                allow_privileged=settings.allow_privileged,
            ),
            outbox=Outbox(settings.data_dir.outbox_dir),
            executions=ExecutionsLog(settings.data_dir.executions_path),
        )

    async def _shut_down(
        self, runner: TaskRunner, connection_task: asyncio.Task
    ) -> int:
        runner.stop_accepting()
        if connection_task.done():
            error = connection_task.exception()
            if not isinstance(error, ReconnectLimitReached):
                logger.error("hub connection stopped unexpectedly: %r", error)
            await runner.stop_all("the agent gave up reconnecting to the hub")
            return 1

        grace = self._settings.shutdown_grace
        if runner.running_count:
            logger.info(
                "stopping: waiting up to %g s for running tasks to finish (%d)",
                grace,
                runner.running_count,
            )
        if not await runner.wait_idle(grace):
            await runner.stop_all("the agent stopped before the task finished")
        connection_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connection_task
        return 0


async def run_until_signal(settings: AgentSettings) -> int:
    """Run the agent until SIGTERM or SIGINT; return the exit code."""
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, _request_stop, stop_event, signal_number)
    try:
        return await Agent(settings).run(stop_event)
    finally:
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signal_number)


def _request_stop(stop_event: asyncio.Event, signal_number: int) -> None:
    logger.info("received %s, stopping", signal.Signals(signal_number).name)
    stop_event.set()
