"""Executor of DOCKER_SERVICE tasks through the ``docker service`` command line.

Every call is an argument vector for the ``docker`` program, never a shell line.
The agent advertises this capability only when ``docker info`` succeeds, that is
when the Docker engine that the docker CLI is configured for responds.
"""

import asyncio
import json
import logging
import re
import shlex
import shutil

from ris.v1 import task_pb2
from ris_agent.execution import ExecutionContext, Outcome, effective_timeout, failed
from ris_agent.output import decode_output
from ris_agent.process import run_process

logger = logging.getLogger(__name__)

CAPABILITY = "docker_service"
_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_DOCKER_INFO_TIMEOUT_SECONDS = 10.0


class InvalidDockerTask(Exception):
    """The payload is invalid; the message names the field."""


class _DockerCallCancelled(Exception):
    """The hub cancelled the attempt during a docker call, which was killed."""


def validate_docker_task(task: task_pb2.DockerServiceTask) -> None:
    """Raise InvalidDockerTask for a bad action, service name, image or replicas."""
    if task.action == task_pb2.DOCKER_ACTION_UNSPECIFIED:
        raise InvalidDockerTask("action is not set")
    if not _SERVICE_NAME.fullmatch(task.service_name):
        raise InvalidDockerTask(
            f"invalid service_name {task.service_name!r}: expected letters, digits, "
            "'.', '-' or '_', at most 63 characters"
        )
    if task.action == task_pb2.DOCKER_ACTION_DEPLOY and not task.image:
        raise InvalidDockerTask("image is required for DEPLOY")
    if task.replicas < 0:
        raise InvalidDockerTask(f"invalid replicas {task.replicas}: must be 0 or more")


def _port_argument(port: task_pb2.PortMapping) -> str:
    value = f"target={port.container_port},protocol={port.protocol or 'tcp'}"
    if port.host_port:
        value = f"published={port.host_port},{value}"
    return value


def _mount_argument(volume: task_pb2.VolumeMapping) -> str:
    kind = "bind" if volume.source.startswith("/") else "volume"
    value = f"type={kind},source={volume.source},target={volume.target}"
    return value + (",readonly" if volume.read_only else "")


def _health_arguments(health: task_pb2.HealthCheckConfig) -> list[str]:
    test = list(health.test)
    if not test:
        return []
    if test[0] == "NONE":
        return ["--no-healthcheck"]
    if test[0] == "CMD-SHELL":
        command = " ".join(test[1:])
    elif test[0] == "CMD":
        command = shlex.join(test[1:])  # the CLI accepts only the shell form
    else:
        command = shlex.join(test)
    arguments = ["--health-cmd", command]
    if health.interval:
        arguments += ["--health-interval", f"{health.interval}s"]
    if health.timeout:
        arguments += ["--health-timeout", f"{health.timeout}s"]
    if health.retries:
        arguments += ["--health-retries", str(health.retries)]
    return arguments


def _resource_arguments(resources: task_pb2.ResourceConstraints) -> list[str]:
    arguments = []
    for flag, value in (
        ("--limit-memory", resources.limits.memory),
        ("--limit-cpu", resources.limits.cpu),
        ("--reserve-memory", resources.reservations.memory),
        ("--reserve-cpu", resources.reservations.cpu),
    ):
        if value:
            arguments += [flag, value]
    return arguments


def build_deploy_args(task: task_pb2.DockerServiceTask, exists: bool) -> list[str]:
    """Return ``docker service update`` for an existing service, else ``create``."""
    if exists:
        arguments = ["docker", "service", "update", "--detach", "--image", task.image]
        env_flag, port_flag, mount_flag, network_flag = (
            "--env-add",
            "--publish-add",
            "--mount-add",
            "--network-add",
        )
    else:
        arguments = [
            "docker",
            "service",
            "create",
            "--detach",
            "--name",
            task.service_name,
        ]
        env_flag, port_flag, mount_flag, network_flag = (
            "--env",
            "--publish",
            "--mount",
            "--network",
        )
    if task.replicas:
        arguments += ["--replicas", str(task.replicas)]
    for name in sorted(task.environment):
        arguments += [env_flag, f"{name}={task.environment[name]}"]
    for port in task.ports:
        arguments += [port_flag, _port_argument(port)]
    for volume in task.volumes:
        arguments += [mount_flag, _mount_argument(volume)]
    for network in task.networks:
        arguments += [network_flag, network]
    arguments += _resource_arguments(task.resources)
    arguments += _health_arguments(task.health_check)
    arguments.append(task.service_name if exists else task.image)
    return arguments


def build_docker_args(
    task: task_pb2.DockerServiceTask, exists: bool = False
) -> list[str]:
    """Return the argument vector for the task's action.

    For DEPLOY, ``exists`` selects update (True) or create (False). STATUS lists
    services whose name starts with service_name, as ``docker service ls`` filters
    by prefix; the caller picks the exact name.
    """
    name = task.service_name
    if task.action == task_pb2.DOCKER_ACTION_DEPLOY:
        return build_deploy_args(task, exists)
    if task.action == task_pb2.DOCKER_ACTION_SCALE:
        return ["docker", "service", "scale", "--detach", f"{name}={task.replicas}"]
    if task.action == task_pb2.DOCKER_ACTION_REMOVE:
        return ["docker", "service", "rm", name]
    if task.action == task_pb2.DOCKER_ACTION_STATUS:
        return [
            "docker",
            "service",
            "ls",
            "--filter",
            f"name={name}",
            "--format",
            "{{json .}}",
        ]
    raise InvalidDockerTask(f"unknown action {task.action}")


def parse_service_state(name: str, listing: str) -> task_pb2.ServiceState | None:
    """Read the line of service ``name`` from ``docker service ls`` JSON lines.

    Replicas come as "running/desired", for example "2/3". Returns None when the
    service is not listed.
    """
    for line in listing.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("Name") != name:
            continue
        running, _, desired = str(row.get("Replicas", "")).partition("/")
        running_count = int(running) if running.isdigit() else 0
        desired_count = int(desired.split()[0]) if desired[:1].isdigit() else 0
        state = (
            "running" if desired_count and running_count >= desired_count else "pending"
        )
        return task_pb2.ServiceState(
            service_name=name,
            image=row.get("Image", ""),
            replicas_desired=desired_count,
            replicas_running=running_count,
            state=state if desired_count else "stopped",
            message=f"mode {row.get('Mode', 'unknown')}",
        )
    return None


async def docker_usable() -> bool:
    """Return whether the docker CLI exists and ``docker info`` succeeds."""
    if shutil.which("docker") is None:
        return False
    try:
        result = await run_process(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            timeout=_DOCKER_INFO_TIMEOUT_SECONDS,
            cancel_event=asyncio.Event(),
            max_output_bytes=4096,
        )
    except OSError as error:
        logger.info("docker_service disabled: cannot run docker info: %s", error)
        return False
    if result.exit_code != 0:
        logger.info(
            "docker_service disabled: docker info exited with %d", result.exit_code
        )
        return False
    return True


async def _docker(
    arguments: list[str], context: ExecutionContext, timeout: float
) -> tuple[int, str, str]:
    result = await run_process(
        arguments,
        timeout=timeout,
        cancel_event=context.cancel_event,
        max_output_bytes=context.max_output_bytes,
    )
    limit = context.max_output_bytes
    stdout, _ = decode_output(result.stdout.data, result.stdout.truncated, limit)
    stderr, _ = decode_output(result.stderr.data, result.stderr.truncated, limit)
    if result.cancelled:
        raise _DockerCallCancelled
    if result.timed_out:
        raise TimeoutError
    return result.exit_code, stdout, stderr


async def _service_state(
    task: task_pb2.DockerServiceTask, context: ExecutionContext, timeout: float
) -> task_pb2.ServiceState | None:
    status = task_pb2.DockerServiceTask(
        action=task_pb2.DOCKER_ACTION_STATUS, service_name=task.service_name
    )
    code, stdout, _ = await _docker(build_docker_args(status), context, timeout)
    return parse_service_state(task.service_name, stdout) if code == 0 else None


async def _run_action(
    task: task_pb2.DockerServiceTask, context: ExecutionContext, timeout: float
) -> Outcome:
    exists = (await _service_state(task, context, timeout)) is not None
    if task.action != task_pb2.DOCKER_ACTION_STATUS:
        code, _, stderr = await _docker(
            build_docker_args(task, exists), context, timeout
        )
        if code != 0:
            return failed(f"docker exited with code {code}: {stderr.strip()}")
    state = await _service_state(task, context, timeout)
    if state is None:
        state = task_pb2.ServiceState(service_name=task.service_name, state="absent")
    if task.action == task_pb2.DOCKER_ACTION_STATUS and not exists:
        return Outcome(
            task_pb2.TASK_STATUS_FAILED,
            task_pb2.TaskResult(service_state=state, error="service not found"),
        )
    return Outcome(
        task_pb2.TASK_STATUS_COMPLETED, task_pb2.TaskResult(service_state=state)
    )


async def execute_docker_service(
    spec: task_pb2.TaskSpec, context: ExecutionContext
) -> Outcome:
    """Deploy, scale, remove or inspect a Docker service and report its state.

    The time limit applies to each docker call separately.
    """
    task = spec.docker_service
    try:
        validate_docker_task(task)
    except InvalidDockerTask as error:
        logger.warning("rejected docker_service task %s: %s", context.task_id, error)
        return failed(f"invalid docker_service task: {error}")

    timeout = effective_timeout(0, context)
    try:
        return await _run_action(task, context, timeout)
    except _DockerCallCancelled:
        return Outcome(
            task_pb2.TASK_STATUS_CANCELLED, task_pb2.TaskResult(error="cancelled")
        )
    except TimeoutError:
        logger.warning("docker call of task %s timed out", context.task_id)
        return Outcome(
            task_pb2.TASK_STATUS_TIMEOUT,
            task_pb2.TaskResult(error=f"docker call timed out after {timeout:g} s"),
        )
    except OSError as error:
        logger.warning("cannot run docker for task %s: %s", context.task_id, error)
        return failed(f"cannot run docker: {error}")
