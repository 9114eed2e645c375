"""Pure logic of the agent: backoff, output limits, outbox format, addresses."""

import random

import pytest

from ris.v1 import agent_pb2, task_pb2
from ris_agent.backoff import (
    Backoff,
    ReconnectPolicy,
    backoff_ceiling,
    full_jitter_delay,
)
from ris_agent.endpoints import endpoint_from_server_host, parse_host_port
from ris_agent.http_executor import (
    InvalidHttpTask,
    build_auth_headers,
    check_response,
    join_headers,
    redact_url,
    validate_http_task,
)
from ris_agent.outbox_format import decode_result, encode_result, outbox_entry_name
from ris_agent.output import OutputBuffer, decode_output


def test_backoff_ceiling_doubles_until_max():
    ceilings = [backoff_ceiling(attempt, 1.0, 10.0) for attempt in range(6)]

    assert ceilings == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_ceiling_huge_attempt_stays_finite():
    assert backoff_ceiling(10_000, 0.5, 30.0) == 30.0


def test_full_jitter_matches_seeded_uniform():
    expected_rng = random.Random(42)
    rng = random.Random(42)

    for attempt in range(8):
        ceiling = min(20.0, 2.0 * 2**attempt)
        expected = expected_rng.uniform(0.0, ceiling)
        assert full_jitter_delay(attempt, 2.0, 20.0, rng) == expected


def test_full_jitter_stays_within_bounds():
    rng = random.Random(1)

    for attempt in range(50):
        delay = full_jitter_delay(attempt, 1.0, 8.0, rng)
        assert 0.0 <= delay <= backoff_ceiling(attempt, 1.0, 8.0)


def test_backoff_sequence_and_reset():
    policy = ReconnectPolicy(max_attempts=0, initial_delay=1.0, max_delay=4.0)
    backoff = Backoff(policy, random.Random(3))
    reference = random.Random(3)

    delays = [backoff.next_delay() for _ in range(4)]
    assert delays == [reference.uniform(0.0, ceiling) for ceiling in (1, 2, 4, 4)]
    assert backoff.attempts == 4

    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.next_delay() == reference.uniform(0.0, 1.0)


def test_backoff_max_attempts_exhausts():
    backoff = Backoff(ReconnectPolicy(max_attempts=2), random.Random(0))

    assert not backoff.exhausted()
    backoff.next_delay()
    assert not backoff.exhausted()
    backoff.next_delay()
    assert backoff.exhausted()


def test_backoff_zero_max_attempts_never_exhausts():
    backoff = Backoff(ReconnectPolicy(max_attempts=0), random.Random(0))

    for _ in range(1000):
        backoff.next_delay()
    assert not backoff.exhausted()


def test_policy_normalizes_unset_values():
    policy = ReconnectPolicy(max_attempts=-1, initial_delay=0, max_delay=0).normalized()

    assert policy.max_attempts == 0
    assert policy.initial_delay == 1.0
    assert policy.max_delay == 60.0


def test_policy_raises_max_below_initial():
    policy = ReconnectPolicy(initial_delay=5, max_delay=2).normalized()

    assert policy.max_delay == 5


def test_output_buffer_keeps_prefix_and_counts_rest():
    buffer = OutputBuffer(5)
    buffer.append(b"abc")
    buffer.append(b"defgh")
    buffer.append(b"ijk")

    assert buffer.data == b"abcde"
    assert buffer.truncated
    assert buffer.total_bytes == 11


def test_output_buffer_exact_limit_is_not_truncated():
    buffer = OutputBuffer(3)
    buffer.append(b"abc")

    assert buffer.data == b"abc"
    assert not buffer.truncated


def test_decode_output_drops_cut_multibyte_character():
    data = "aé".encode()[:2]  # "a" and the first byte of "é"

    text, truncated = decode_output(data, True, 10)

    assert text == "a"
    assert truncated


def test_decode_output_replaces_invalid_bytes():
    text, truncated = decode_output(b"a\xffb", False, 10)

    assert text == "a\ufffdb"
    assert not truncated


def test_decode_output_recuts_replacement_growth():
    text, truncated = decode_output(b"\xff\xff\xff", False, 4)

    assert len(text.encode()) <= 4
    assert truncated


def test_decode_output_unknown_encoding_falls_back_to_utf8():
    text, _ = decode_output("é".encode(), False, 10, "no-such-codec")

    assert text == "é"


def test_outbox_entry_name_for_uuid():
    name = outbox_entry_name("0b7c6c8e-4a1f-4c47-9d0a-4f3f2b7c9e11", 3)

    assert name == "0b7c6c8e-4a1f-4c47-9d0a-4f3f2b7c9e11.3.result"


@pytest.mark.parametrize("task_id", ["../../etc/passwd", "a/b", ".hidden", "x" * 300])
def test_outbox_entry_name_hashes_unsafe_ids(task_id):
    name = outbox_entry_name(task_id, 1)

    assert "/" not in name
    assert name.startswith("~")
    assert len(name) < 100


def test_outbox_entry_roundtrip():
    report = agent_pb2.ResultReport(
        task_id="t-1", attempt=2, status=task_pb2.TASK_STATUS_COMPLETED
    )
    report.result.command_output.stdout = "out"

    assert decode_result(encode_result(report)) == report


def test_outbox_decode_rejects_garbage():
    with pytest.raises(ValueError):
        decode_result(b"\xff\xff\xff")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hub.example:7443", "hub.example:7443"),
        (" 127.0.0.1:1 ", "127.0.0.1:1"),
        ("[::1]:443", "[::1]:443"),
    ],
)
def test_parse_host_port_accepts(value, expected):
    assert parse_host_port(value) == expected


@pytest.mark.parametrize(
    "value", ["hub", ":443", "hub:", "hub:0", "hub:70000", "hub:x", "::1:443", "a/b:1"]
)
def test_parse_host_port_rejects(value):
    with pytest.raises(ValueError):
        parse_host_port(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://hub.example:7443", "hub.example:7443"),
        ("https://hub.example", "hub.example:443"),
        ("https://[::1]:7443/", "[::1]:7443"),
    ],
)
def test_endpoint_from_server_host_accepts(value, expected):
    assert endpoint_from_server_host(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "http://hub:1",
        "hub:1",
        "https://hub:1/agent",
        "https://u:p@hub:1",
        "https://hub:x",
    ],
)
def test_endpoint_from_server_host_rejects(value):
    with pytest.raises(ValueError):
        endpoint_from_server_host(value)


def test_validate_http_task_normalizes_method():
    task = task_pb2.HttpRequestTask(method="post", url="http://127.0.0.1/x")

    assert validate_http_task(task) == "POST"


@pytest.mark.parametrize(
    "task",
    [
        task_pb2.HttpRequestTask(method="TRACE", url="http://127.0.0.1/"),
        task_pb2.HttpRequestTask(method="GET", url="ftp://127.0.0.1/"),
        task_pb2.HttpRequestTask(method="GET", url="http:///path"),
        task_pb2.HttpRequestTask(method="GET", url="http://127.0.0.1/", retries=11),
        task_pb2.HttpRequestTask(method="GET", url="http://127.0.0.1/" + "a" * 8192),
    ],
)
def test_validate_http_task_rejects(task):
    with pytest.raises(InvalidHttpTask):
        validate_http_task(task)


def test_build_auth_headers_api_key_default_header():
    auth = task_pb2.HttpAuth(type=task_pb2.HTTP_AUTH_TYPE_API_KEY, api_key="k")

    assert build_auth_headers(auth) == {"X-API-Key": "k"}


def test_build_auth_headers_rejects_empty_token():
    with pytest.raises(InvalidHttpTask):
        build_auth_headers(task_pb2.HttpAuth(type=task_pb2.HTTP_AUTH_TYPE_BEARER))


def test_join_headers_joins_repeats():
    joined = join_headers([("set-cookie", "a=1"), ("x", "1"), ("set-cookie", "b=2")])

    assert joined == {"set-cookie": "a=1, b=2", "x": "1"}


def test_check_response_default_range():
    validation = task_pb2.HttpValidation()

    assert check_response(204, "", False, validation) == ""
    assert check_response(399, "", False, validation) == ""
    assert "unexpected status 404" in check_response(404, "", False, validation)


def test_check_response_expected_status_and_body():
    validation = task_pb2.HttpValidation(expected_status=[201], body_contains="ok")

    assert check_response(201, "all ok", False, validation) == ""
    assert "unexpected status 200" in check_response(200, "ok", False, validation)
    assert "does not contain" in check_response(201, "bad", False, validation)
    assert "was cut" in check_response(201, "bad", True, validation)


def test_redact_url_drops_credentials_and_query():
    redacted = redact_url("https://user:secret@host.example:8443/p?token=abc#frag")

    assert redacted == "https://host.example:8443/p"
