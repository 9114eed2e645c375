"""The RIS hub: gRPC API, agent channel, REST edge and metrics in one process."""

__version__ = "0.1.0"
