"""Configuration loading and duration parsing."""

import json

import pytest

from ris_server.config import ConfigError, load_config
from ris_server.durations import format_duration, parse_duration
from ris_server.sizes import parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("250ms", 0.25),
        ("2d", 172800),
        (7, 7),
    ],
)
def test_parse_duration_accepts_units(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5", "5x", "-5s", "1h 30m", "s30", True])
def test_parse_duration_rejects_bad_text(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_matches_health_form():
    assert format_duration(9015) == "2h30m15s"
    assert format_duration(75) == "1m15s"
    assert format_duration(4.9) == "4s"


def test_defaults_without_any_file():
    config = load_config(env={"CONFIG_PATH": ""})
    assert config.server.port == 8057
    assert config.server.grpc_port == 50051
    assert config.server.agent_port == 50052
    assert config.task_orchestration.task_timeout == 300
    assert config.client_management.heartbeat_interval == 30


def test_documented_sections_are_read(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "server": {"host": "127.0.0.1", "port": 9000},
                "task_orchestration": {
                    "task_timeout": "60s",
                    "retry_policy": {"max_attempts": 5, "initial_delay": "2s"},
                    "queue": {"size": 50},
                },
                "features": {"debug_mode": True},
                "monitoring": {"alerting": {"enabled": True}},
            }
        )
    )
    config = load_config(env={"CONFIG_PATH": str(path), "METRICS_PORT": "9191"})
    assert config.server.port == 9000
    assert config.task_orchestration.task_timeout == 60
    assert config.task_orchestration.retry_policy.max_attempts == 5
    assert config.task_orchestration.queue.size == 50
    assert config.monitoring.metrics.port == 9191


def test_bad_value_names_key_and_value(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"client_management": {"heartbeat_interval": "soon"}}))
    with pytest.raises(ConfigError) as info:
        load_config(env={"CONFIG_PATH": str(path)})
    message = str(info.value)
    assert "client_management.heartbeat_interval" in message
    assert "'soon'" in message


def test_unknown_key_is_rejected(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"server": {"prot": 1}}))
    with pytest.raises(ConfigError) as info:
        load_config(env={"CONFIG_PATH": str(path)})
    assert "server.prot" in str(info.value)


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(env={"CONFIG_PATH": str(tmp_path / "absent.json")})
    assert "file not found" in str(info.value)


def test_invalid_json_is_an_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{nope")
    with pytest.raises(ConfigError) as info:
        load_config(env={"CONFIG_PATH": str(path)})
    assert "invalid JSON" in str(info.value)


def test_connection_timeout_must_exceed_heartbeat(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "client_management": {
                    "heartbeat_interval": "30s",
                    "connection_timeout": "10s",
                }
            }
        )
    )
    with pytest.raises(ConfigError) as info:
        load_config(env={"CONFIG_PATH": str(path)})
    assert "connection_timeout" in str(info.value)


def test_server_exits_2_on_bad_config(tmp_path, capsys, monkeypatch):
    from ris_server.main import main

    path = tmp_path / "config.json"
    path.write_text(json.dumps({"server": {"port": 70000}}))
    monkeypatch.setenv("CONFIG_PATH", str(path))
    assert main([]) == 2
    assert "server.port = 70000" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "size"),
    [("100MB", 100_000_000), ("64KiB", 65536), (512, 512), ("7 b", 7)],
)
def test_parse_size_accepts_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "big", "5TB", "-1", -1, True, "1.5MB"])
def test_parse_size_rejects_bad_text(text):
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        (
            {"multi_tenant": {"tenant_isolation": "database", "default_tenant": "A/b"}},
            "multi_tenant.default_tenant",
        ),
        ({"audit_log": {"max_size": "1KB"}}, "audit_log.max_size"),
        ({"audit_log": {"max_size": "lots"}}, "audit_log.max_size"),
        ({"security": {"audit": {"events": ["everything"]}}}, "security.audit.events"),
        ({"security": {"audit": {"retention_days": 0}}}, "retention_days"),
    ],
)
def test_security_sections_checked(tmp_path, sections, key):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(sections))

    with pytest.raises(ConfigError) as error:
        load_config(env={"CONFIG_PATH": str(path)})

    assert key in str(error.value)


def test_type_errors_hide_secret_values(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "authentication": {
                    "jwt": {"secret": 12345678},
                    "ldap": {"bind_password": ["LDAP-S3CR3T"]},
                },
                "database": {"redis": {"password": ["REDIS-S3CR3T"]}},
            }
        )
    )

    with pytest.raises(ConfigError) as error:
        load_config(env={"CONFIG_PATH": str(path)})
    message = str(error.value)

    assert "authentication.jwt.secret" in message
    assert "authentication.ldap.bind_password" in message
    assert "12345678" not in message
    assert "LDAP-S3CR3T" not in message
    assert "REDIS-S3CR3T" not in message
