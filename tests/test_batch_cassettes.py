"""The Batch API cassettes (cassettes/batches/) are faithful, credential-free exchanges.

Every response body conforms to the schema OpenAI's OpenAPI description gives its path
(`OpenAIFile`, `Batch`, `ListBatchesResponse`, `ErrorResponse`), every line of a downloaded
output or error file is a `BatchRequestOutput` whose 200 bodies are `CreateChatCompletionResponse`s,
every uploaded line a `BatchRequestInput`, and each cassette shows the lifecycle its README row
names. Written by tests/author_batch_cassettes.py.
"""

from __future__ import annotations

import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from test_cassettes import (
    BATCH_CASSETTES,
    CREDENTIAL_HEADERS,
    CREDENTIAL_TEXT,
    OpenAPI,
    load_openapi,
    schema_errors,
)
from test_fakeserver_batches import BATCH_REQUEST_INPUT, BATCH_REQUEST_OUTPUT, SCHEMAS

FILES = sorted(BATCH_CASSETTES.glob("*.yaml"))
# The statuses each cassette's polls see, in order, and where its batch ends.
LIFECYCLES = {
    "completed": ["validating", "validating", "in_progress", "finalizing", "completed"],
    "partly_failed": ["validating", "completed"],
    "all_failed": ["validating", "completed"],
    "invalid_input": ["validating", "failed"],
    "expired": ["validating", "expired"],
    "cancelled": ["validating", "cancelling", "cancelling", "cancelled"],
}
ROUTES = (  # method, path pattern, schema of a 200 body
    ("POST", r"/v1/files", "OpenAIFile"),
    ("GET", r"/v1/files/[^/]+", "OpenAIFile"),
    ("DELETE", r"/v1/files/[^/]+", "DeleteFileResponse"),
    ("GET", r"/v1/files/[^/]+/content", None),  # JSON Lines, checked line by line
    ("POST", r"/v1/batches", "Batch"),
    ("GET", r"/v1/batches/[^/]+", "Batch"),
    ("POST", r"/v1/batches/[^/]+/cancel", "Batch"),
    ("GET", r"/v1/batches", "ListBatchesResponse"),
)


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return load_openapi(SCHEMAS)


def interactions(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a vcrpy cassette"
    found = data["interactions"]
    assert isinstance(found, list), f"{path.name}: no interactions list"
    assert found, f"{path.name}: holds no interactions"
    return found


def route(method: str, uri: str) -> str | None:
    path = urlsplit(uri).path
    for want, pattern, schema in ROUTES:
        if method == want and re.fullmatch(pattern, path):
            return schema
    pytest.fail(f"{method} {uri} is no Files or Batch endpoint")


def uploaded_lines(request: dict[str, Any]) -> list[Any]:
    """The lines of the file in a multipart upload, read with the standard library's parser."""
    (content_type,) = request["headers"]["content-type"]
    raw = request["body"].encode() if isinstance(request["body"], str) else request["body"]
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    parts = {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }
    assert parts["purpose"].get_content().strip() == "batch"
    payload = parts["file"].get_payload(decode=True)
    assert isinstance(payload, bytes), "the file part is not a single payload"
    text = payload.decode()
    return [json.loads(line) for line in text.splitlines()]


each = pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)


def test_every_batch_cassette_has_a_lifecycle_here() -> None:
    assert sorted(p.stem for p in FILES) == sorted(LIFECYCLES)


@each
def test_batch_cassette_bodies_conform_to_openapi_and_the_batch_file_format(
    path: Path, spec: OpenAPI
) -> None:
    problems: list[str] = []
    for index, item in enumerate(interactions(path)):
        request, response = item["request"], item["response"]
        where, status = f"{path.name}#{index}", response["status"]["code"]
        schema = route(request["method"], request["uri"])
        body = response["body"]["string"]
        if request["method"] == "POST" and urlsplit(request["uri"]).path == "/v1/files":
            for line in uploaded_lines(request):
                jsonschema.validate(line, BATCH_REQUEST_INPUT)
        if status != 200:
            problems += schema_errors(spec.validators["ErrorResponse"], json.loads(body), where)
        elif schema is not None:
            problems += schema_errors(spec.validators[schema], json.loads(body), where)
        else:
            for line in map(json.loads, body.splitlines()):
                jsonschema.validate(line, BATCH_REQUEST_OUTPUT)
                if line["response"] and line["response"]["status_code"] == 200:
                    name = "CreateChatCompletionResponse"
                    problems += schema_errors(
                        spec.validators[name], line["response"]["body"], where
                    )
    assert not problems, "\n".join(problems)


@each
def test_batch_cassette_shows_its_lifecycle(path: Path) -> None:
    statuses = [
        json.loads(item["response"]["body"]["string"])["status"]
        for item in interactions(path)
        if route(item["request"]["method"], item["request"]["uri"]) == "Batch"
    ]
    assert statuses == LIFECYCLES[path.stem]


@each
def test_batch_cassette_holds_no_credential(path: Path) -> None:
    for item in interactions(path):
        for side in ("request", "response"):
            headers = item[side].get("headers") or {}
            assert not {name.lower() for name in headers} & CREDENTIAL_HEADERS
    assert not CREDENTIAL_TEXT.search(path.read_text("utf-8"))
