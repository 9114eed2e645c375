"""ServiceManagementService: Docker service changes carried out as tasks."""

from ris.v1 import service_pb2, service_pb2_grpc, task_pb2
from ris_server.errors import InvalidArgument
from ris_server.hub import Hub
from ris_server.interceptors import service_errors
from ris_server.services.tasks import submit_task
from ris_server.validation import require


class ServiceManagementServicer(service_pb2_grpc.ServiceManagementServiceServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def _run(
        self, client_id: str, docker: task_pb2.DockerServiceTask, timeout: int
    ):
        principal, tenant = await self._hub.caller()
        require(client_id, "client_id")
        spec = task_pb2.TaskSpec(
            type=task_pb2.TASK_TYPE_DOCKER_SERVICE, docker_service=docker
        )
        return await submit_task(
            self._hub,
            principal,
            tenant.code,
            client_id,
            spec,
            timeout=timeout,
            priority=task_pb2.TASK_PRIORITY_NORMAL,
            max_attempts=1,
            wait=True,
        )

    @service_errors
    async def DeployService(self, request, context):
        if not request.HasField("service"):
            raise InvalidArgument("service is required")
        service = request.service
        docker = task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_DEPLOY,
            service_name=service.name,
            image=service.image,
            replicas=service.replicas or 1,
            ports=service.ports,
            environment=service.environment,
            volumes=service.volumes,
            networks=service.networks,
            resources=service.resources,
            health_check=service.health_check,
        )
        task = await self._run(request.client_id, docker, request.timeout)
        return service_pb2.DeployServiceResponse(task=task)

    @service_errors
    async def ScaleService(self, request, context):
        docker = task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_SCALE,
            service_name=request.service_name,
            replicas=request.replicas,
        )
        task = await self._run(request.client_id, docker, request.timeout)
        return service_pb2.ScaleServiceResponse(task=task)

    @service_errors
    async def GetServiceStatus(self, request, context):
        docker = task_pb2.DockerServiceTask(
            action=task_pb2.DOCKER_ACTION_STATUS, service_name=request.service_name
        )
        task = await self._run(request.client_id, docker, 0)
        return service_pb2.GetServiceStatusResponse(task=task)
