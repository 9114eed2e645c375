"""Prometheus metrics of the hub, served by the metrics listener."""

from prometheus_client import Counter, Gauge

TASKS_SUBMITTED = Counter(
    "ris_tasks_submitted", "Tasks accepted and persisted, by task type", ["type"]
)
TASKS_FINISHED = Counter(
    "ris_tasks_finished", "Tasks that reached a terminal state, by status", ["status"]
)
RESULTS_STALE = Counter(
    "ris_results_stale",
    "Results of an old attempt or a finished task, recorded and not applied",
)
AGENTS_CONNECTED = Gauge("ris_agents_connected", "Agents holding a stream to this hub")
RATE_LIMITED = Counter(
    "ris_rate_limited_requests",
    "API calls rejected with RESOURCE_EXHAUSTED by a rate limit, by the kind of "
    "bucket that was empty (address or principal)",
    ["bucket"],
)
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "ris_rate_limit_backend_errors",
    "API calls allowed without a rate limit because Redis did not answer",
)


def status_label(status_name: str) -> str:
    """Turn "TASK_STATUS_COMPLETED" into "completed"."""
    return status_name.removeprefix("TASK_STATUS_").lower()


def type_label(type_name: str) -> str:
    return type_name.removeprefix("TASK_TYPE_").lower()
