"""Data directory layout and the state file that enrollment writes.

Layout of the data directory (mode 0700):

- ``agent.key``: the agent's EC P-256 private key, PEM PKCS#8, mode 0600.
- ``agent.crt``: the agent's certificate from the hub, PEM.
- ``ca.crt``: the hub's CA certificate, PEM; verifies the hub's agent port.
- ``state.json``: the ``AgentState`` fields below, as a JSON object.
- ``outbox/``: result reports not yet acknowledged by the hub.
- ``executions.jsonl``: one JSON line per task start.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ris_agent.backoff import ReconnectPolicy
from ris_agent.files import write_file_atomic

DATA_DIR_ENV = "RIS_AGENT_DATA_DIR"
DEFAULT_DATA_DIR = "./agent-data"
STATE_FORMAT = 1


class StateError(Exception):
    """The data directory is missing, unreadable or incomplete."""


def resolve_data_dir(argument: str | None) -> Path:
    """Return the argument, else $RIS_AGENT_DATA_DIR, else ./agent-data."""
    return Path(argument or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


@dataclass(frozen=True)
class DataDir:
    """Paths inside the agent's data directory."""

    root: Path

    @property
    def key_path(self) -> Path:
        return self.root / "agent.key"

    @property
    def certificate_path(self) -> Path:
        return self.root / "agent.crt"

    @property
    def ca_certificate_path(self) -> Path:
        return self.root / "ca.crt"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def outbox_dir(self) -> Path:
        return self.root / "outbox"

    @property
    def executions_path(self) -> Path:
        return self.root / "executions.jsonl"

    def create(self) -> None:
        """Create the directory with mode 0700 if it does not exist."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)


@dataclass(frozen=True)
class AgentState:
    """Enrollment results that ``ris-agent run`` needs, stored as state.json."""

    unique_client_id: str
    tenant_code: str
    server_host: str
    """``ClientConfig.server_host`` as the hub sent it: "https://HOST:PORT"."""
    agent_endpoint: str
    """"HOST:PORT" parsed from server_host; empty when server_host was unusable."""
    hostname: str
    heartbeat_interval: int
    """Seconds between heartbeats unless the hub's RegistrationAck sets another."""
    reconnect_policy: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    certificate_expires_at: str = ""
    """ISO 8601 UTC time, empty when the hub did not send it."""
    enrolled_at: str = ""
    format: int = STATE_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "AgentState":
        """Parse state.json. Raises ValueError for invalid JSON or missing fields."""
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("expected a JSON object")
        policy = values.pop("reconnect_policy", None) or {}
        try:
            return cls(reconnect_policy=ReconnectPolicy(**policy), **values)
        except TypeError as error:
            raise ValueError(str(error)) from error


def save_state(data_dir: DataDir, state: AgentState) -> None:
    """Write state.json atomically. Raises OSError."""
    write_file_atomic(data_dir.state_path, state.to_json().encode("utf-8"), 0o600)


def load_state(data_dir: DataDir) -> AgentState:
    """Read state.json and check that key and certificates exist.

    Raises StateError with a message that names what is missing and the next step.
    """
    path = data_dir.state_path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(
            f"agent is not enrolled: {path} not found; run 'ris-agent enroll' first "
            "or pass the right --data-dir"
        ) from None
    except OSError as error:
        raise StateError(f"cannot read {path}: {error.strerror}") from error

    try:
        state = AgentState.from_json(text)
    except ValueError as error:
        raise StateError(f"invalid state file {path}: {error}") from error

    for required in (
        data_dir.key_path,
        data_dir.certificate_path,
        data_dir.ca_certificate_path,
    ):
        if not required.is_file():
            raise StateError(f"{required} not found; enroll the agent again")
    return state
