"""What redact_spec hides in a task payload before it is returned."""

import json

import pytest

from ris.v1 import task_pb2
from ris_server.convert import redact_spec

MARK = "[REDACTED]"


def http(url: str = "http://127.0.0.1/x", body: str = "", **headers):
    spec = task_pb2.TaskSpec(type=task_pb2.TASK_TYPE_HTTP_REQUEST)
    spec.http_request.method = "POST"
    spec.http_request.url = url
    spec.http_request.body = body
    spec.http_request.headers.update(headers)
    return spec


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x?api_key=Q-SECRET",
        "http://127.0.0.1/x?key=Q-SECRET&page=2",
        "http://127.0.0.1/x?page=2&access_token=Q-SECRET",
        "http://user:Q-SECRET@127.0.0.1/x",
        "http://127.0.0.1/x?X-Amz-Signature=Q-SECRET",
    ],
)
def test_url_secrets_redacted(url):
    redacted = redact_spec(http(url)).http_request.url

    assert "Q-SECRET" not in redacted
    assert MARK in redacted or "%5BREDACTED%5D" in redacted


def test_plain_query_kept():
    url = "http://127.0.0.1/x?page=2&sort=name"

    assert redact_spec(http(url)).http_request.url == url


def test_json_body_fields_redacted():
    body = json.dumps(
        {"user": "ops", "password": "B-SECRET", "nested": [{"token": "T"}]}
    )

    redacted = json.loads(redact_spec(http(body=body)).http_request.body)

    assert redacted == {"user": "ops", "password": MARK, "nested": [{"token": MARK}]}


def test_form_body_fields_redacted():
    spec = http(
        body="user=ops&client_secret=B-SECRET",
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )

    body = redact_spec(spec).http_request.body

    assert "B-SECRET" not in body
    assert body.startswith("user=ops&client_secret=")


@pytest.mark.parametrize("body", ["plain text password=x", "{not json", ""])
def test_other_bodies_kept(body):
    assert redact_spec(http(body=body)).http_request.body == body


def test_original_spec_untouched():
    spec = http("http://127.0.0.1/x?token=Q-SECRET")

    redact_spec(spec)

    assert spec.http_request.url.endswith("token=Q-SECRET")
