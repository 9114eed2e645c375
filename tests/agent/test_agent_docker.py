"""Argument vectors of the docker_service executor; no Docker engine is needed."""

import pytest

from ris.v1 import task_pb2
from ris_agent.docker_executor import (
    InvalidDockerTask,
    build_docker_args,
    parse_service_state,
    validate_docker_task,
)


def _deploy_task() -> task_pb2.DockerServiceTask:
    return task_pb2.DockerServiceTask(
        action=task_pb2.DOCKER_ACTION_DEPLOY,
        service_name="web",
        image="nginx:1.27",
        replicas=2,
        ports=[
            task_pb2.PortMapping(container_port=80, host_port=8080),
            task_pb2.PortMapping(container_port=53, protocol="udp"),
        ],
        environment={"B": "2", "A": "x y"},
        volumes=[
            task_pb2.VolumeMapping(source="/srv/data", target="/data", read_only=True),
            task_pb2.VolumeMapping(source="cache", target="/cache"),
        ],
        networks=["front"],
        resources=task_pb2.ResourceConstraints(
            limits=task_pb2.ResourceAmounts(memory="512m", cpu="0.5"),
            reservations=task_pb2.ResourceAmounts(memory="128m"),
        ),
        health_check=task_pb2.HealthCheckConfig(
            test=["CMD", "curl", "-f", "http://localhost/"],
            interval=10,
            timeout=3,
            retries=2,
        ),
    )


def test_deploy_new_service_creates():
    arguments = build_docker_args(_deploy_task(), exists=False)

    assert arguments == [
        "docker", "service", "create", "--detach", "--name", "web",
        "--replicas", "2",
        "--env", "A=x y",
        "--env", "B=2",
        "--publish", "published=8080,target=80,protocol=tcp",
        "--publish", "target=53,protocol=udp",
        "--mount", "type=bind,source=/srv/data,target=/data,readonly",
        "--mount", "type=volume,source=cache,target=/cache",
        "--network", "front",
        "--limit-memory", "512m",
        "--limit-cpu", "0.5",
        "--reserve-memory", "128m",
        "--health-cmd", "curl -f http://localhost/",
        "--health-interval", "10s",
        "--health-timeout", "3s",
        "--health-retries", "2",
        "nginx:1.27",
    ]  # fmt: skip


def test_deploy_existing_service_updates():
    arguments = build_docker_args(_deploy_task(), exists=True)

    assert arguments[:6] == [
        "docker",
        "service",
        "update",
        "--detach",
        "--image",
        "nginx:1.27",
    ]
    assert arguments[-1] == "web"
    assert "--env-add" in arguments
    assert "--publish-add" in arguments
    assert "--mount-add" in arguments
    assert "--network-add" in arguments
    assert "--name" not in arguments


def test_scale_remove_and_status_args():
    scale = task_pb2.DockerServiceTask(
        action=task_pb2.DOCKER_ACTION_SCALE, service_name="web", replicas=0
    )
    remove = task_pb2.DockerServiceTask(
        action=task_pb2.DOCKER_ACTION_REMOVE, service_name="web"
    )
    status = task_pb2.DockerServiceTask(
        action=task_pb2.DOCKER_ACTION_STATUS, service_name="web"
    )

    assert build_docker_args(scale) == [
        "docker",
        "service",
        "scale",
        "--detach",
        "web=0",
    ]
    assert build_docker_args(remove) == ["docker", "service", "rm", "web"]
    assert build_docker_args(status) == [
        "docker", "service", "ls", "--filter", "name=web", "--format", "{{json .}}",
    ]  # fmt: skip


def test_health_check_shell_form_and_none():
    shell = task_pb2.DockerServiceTask(
        action=task_pb2.DOCKER_ACTION_DEPLOY,
        service_name="web",
        image="nginx",
        health_check=task_pb2.HealthCheckConfig(
            test=["CMD-SHELL", "curl -f x || exit 1"]
        ),
    )
    disabled = task_pb2.DockerServiceTask(
        action=task_pb2.DOCKER_ACTION_DEPLOY,
        service_name="web",
        image="nginx",
        health_check=task_pb2.HealthCheckConfig(test=["NONE"]),
    )

    assert "curl -f x || exit 1" in build_docker_args(shell)
    assert "--no-healthcheck" in build_docker_args(disabled)


def test_argument_injection_stays_one_argument():
    task = task_pb2.DockerServiceTask(
        action=task_pb2.DOCKER_ACTION_DEPLOY,
        service_name="web",
        image="nginx; rm -rf /",
        environment={"X": "$(reboot)"},
    )

    arguments = build_docker_args(task)

    assert arguments[-1] == "nginx; rm -rf /"
    assert "X=$(reboot)" in arguments


@pytest.mark.parametrize(
    "task",
    [
        task_pb2.DockerServiceTask(service_name="web"),
        task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_REMOVE, service_name=""
        ),
        task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_REMOVE, service_name="--force"
        ),
        task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_REMOVE, service_name="a" * 64
        ),
        task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_DEPLOY, service_name="web"
        ),
        task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_SCALE, service_name="web", replicas=-1
        ),
    ],
)
def test_validate_docker_task_rejects(task):
    with pytest.raises(InvalidDockerTask):
        validate_docker_task(task)


def test_parse_service_state_picks_exact_name():
    listing = "\n".join(
        [
            '{"Name": "web-2", "Image": "x", "Replicas": "1/1", "Mode": "replicated"}',
            '{"Name": "web", "Image": "nginx:1.27", "Replicas": "1/3"}',
        ]
    )

    state = parse_service_state("web", listing)

    assert state.service_name == "web"
    assert state.image == "nginx:1.27"
    assert state.replicas_running == 1
    assert state.replicas_desired == 3
    assert state.state == "pending"
    assert parse_service_state("missing", listing) is None
