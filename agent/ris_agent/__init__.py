"""Reference agent of the RIS hub: enrollment, the agent stream and task executors."""

from importlib import metadata

try:
    __version__ = metadata.version("ris-server")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
