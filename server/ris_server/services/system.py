"""SystemService: the hub's health report."""

import asyncio
import datetime
import logging
import time

import psutil
from google.protobuf.timestamp_pb2 import Timestamp

from ris.v1 import system_pb2, system_pb2_grpc
from ris_server import __version__
from ris_server.convert import timestamp
from ris_server.durations import format_duration
from ris_server.hub import Hub

log = logging.getLogger(__name__)


# Health reports are reused for this long, so a flood of probes costs at
# most one set of store queries per interval.
REPORT_TTL = 1.0


class SystemServicer(system_pb2_grpc.SystemServiceServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._report: system_pb2.GetHealthResponse | None = None
        self._report_time = 0.0
        self._report_lock = asyncio.Lock()

    async def GetHealth(self, request, context):
        async with self._report_lock:
            if (
                self._report is None
                or time.monotonic() - self._report_time > REPORT_TTL
            ):
                self._report = await self._build_report()
                self._report_time = time.monotonic()
            return self._report

    async def _build_report(self) -> system_pb2.GetHealthResponse:
        hub = self._hub
        now = Timestamp()
        now.GetCurrentTime()
        response = system_pb2.GetHealthResponse(
            status="healthy",
            version=__version__,
            uptime=format_duration(time.time() - hub.started_at),
            timestamp=now,
        )
        components = response.components
        components.database.type = "sqlite"
        started = time.perf_counter()
        try:
            await hub.store.ping()
            components.database.status = "connected"
            components.database.response_time = round(
                (time.perf_counter() - started) * 1000
            )
            total = await hub.store.count_clients()
            last_heartbeat = await hub.store.last_heartbeat()
            midnight = datetime.datetime.now(datetime.UTC).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            counts = await hub.store.task_counts(midnight.timestamp())
        except Exception:
            log.exception("health check: store query failed")
            components.database.status = "error"
            response.status = "unhealthy"
            return response
        connected = hub.dispatcher.connected_count()
        components.clients.total = total
        components.clients.connected = connected
        components.clients.disconnected = max(0, total - connected)
        if last_heartbeat is not None:
            components.clients.last_heartbeat.CopyFrom(timestamp(last_heartbeat))
        components.tasks.running = counts.get("TASK_STATUS_RUNNING", 0)
        components.tasks.queued = counts.get("TASK_STATUS_QUEUED", 0) + counts.get(
            "TASK_STATUS_PENDING", 0
        )
        components.tasks.completed_today = counts.get("TASK_STATUS_COMPLETED", 0)
        components.tasks.failed_today = counts.get(
            "TASK_STATUS_FAILED", 0
        ) + counts.get("TASK_STATUS_TIMEOUT", 0)
        response.system.cpu_usage = psutil.cpu_percent(interval=None)
        response.system.memory_usage = psutil.virtual_memory().percent
        response.system.disk_usage = psutil.disk_usage(str(hub.config.data_dir)).percent
        return response
