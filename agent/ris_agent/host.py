"""Facts about the agent's host: name, operating system and resource usage."""

import logging
import platform
import socket
from pathlib import Path

import psutil

from ris.v1 import common_pb2

logger = logging.getLogger(__name__)


def default_hostname() -> str:
    return socket.gethostname()


def host_type() -> str:
    """Return the operating system and architecture, for example "linux/x86_64"."""
    return f"{platform.system().lower()}/{platform.machine()}"


class ResourceProbe:
    """Sampler of CPU, memory and disk usage in percent for heartbeats."""

    def __init__(self, disk_path: Path):
        self._disk_path = disk_path
        self._disk_error_logged = False
        # The first cpu_percent(None) call only starts the measurement and returns 0.
        psutil.cpu_percent(interval=None)

    def sample(self) -> common_pb2.ResourceUsage:
        """Return usage since the previous sample; CPU is averaged over all cores."""
        try:
            disk = psutil.disk_usage(str(self._disk_path)).percent
        except OSError as error:
            if not self._disk_error_logged:  # once, not every heartbeat
                logger.warning(
                    "cannot read disk usage of %s, reporting 0: %s",
                    self._disk_path,
                    error,
                )
                self._disk_error_logged = True
            disk = 0.0
        return common_pb2.ResourceUsage(
            cpu=psutil.cpu_percent(interval=None),
            memory=psutil.virtual_memory().percent,
            disk=disk,
        )
