"""The fake server's Files and Batch endpoints: each lifecycle and configuration, driven by the
openai SDK and by raw HTTP, every response body held to OpenAI's OpenAPI description.

The description has no schema for the batch files' lines, so `BatchRequestInput` and
`BatchRequestOutput` are written here from OpenAI's documentation of the batch file format. Each
batch runs for under a second; polls are bounded.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import httpx2
import jsonschema
import openai
import pytest
from openai.types import Batch
from test_cassettes import OpenAPI, load_openapi, schema_errors

from sitrep.testing.batches import BatchSettings, add_options, pop_options
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings

ENDPOINT: Final = "/v1/chat/completions"
SCHEMAS = (
    "OpenAIFile",
    "Batch",
    "ListBatchesResponse",
    "DeleteFileResponse",
    "ErrorResponse",
    "CreateChatCompletionResponse",
)
BATCH_REQUEST_INPUT = {
    "type": "object",
    "required": ["custom_id", "method", "url", "body"],
    "properties": {
        "custom_id": {"type": "string"},
        "method": {"enum": ["POST"]},
        "url": {"type": "string"},
        "body": {"type": "object"},
    },
}
BATCH_REQUEST_OUTPUT = {
    "type": "object",
    "required": ["id", "custom_id", "response", "error"],
    "properties": {
        "id": {"type": "string"},
        "custom_id": {"type": "string"},
        "response": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["status_code", "request_id", "body"],
                    "properties": {
                        "status_code": {"type": "integer"},
                        "request_id": {"type": "string"},
                        "body": {"type": "object"},
                    },
                },
                {"type": "null"},
            ]
        },
        "error": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
                {"type": "null"},
            ]
        },
    },
}
FINAL = ("completed", "failed", "expired", "cancelled")


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return load_openapi(SCHEMAS)


def conform(spec: OpenAPI, name: str, body: Any) -> Any:
    problems = schema_errors(spec.validators[name], body, name)
    assert not problems, "\n".join(problems)
    return body


def echo(body: dict[str, Any]) -> str:
    """Arguments that repeat the request's message, so an answer shows which request it is."""
    return json.dumps({"incidents": [], "statistics": [], "echo": body["messages"][0]["content"]})


def request_line(custom_id: str, **changes: Any) -> dict[str, Any]:
    body = {"model": "gpt-fake", "messages": [{"role": "user", "content": f"about {custom_id}"}]}
    tool = {"type": "function", "function": {"name": "record", "parameters": {"type": "object"}}}
    line = {
        "custom_id": custom_id,
        "method": "POST",
        "url": ENDPOINT,
        "body": body | {"tools": [tool]},
    }
    return line | changes


def jsonl(lines: list[Any]) -> bytes:
    return "".join(
        (line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines
    ).encode()


IDS = [f"article-{n}" for n in range(8)]
GOOD = [request_line(custom_id) for custom_id in IDS]


@contextmanager
def serve(seed: int = 0, **batch: Any) -> Iterator[tuple[FakeOpenAIServer, openai.OpenAI]]:
    settings = ServerSettings(
        seed=seed, answer=echo, batch=BatchSettings(**{"duration": 0.4} | batch)
    )
    with FakeOpenAIServer(settings) as server:
        yield server, openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)


def url(client: openai.OpenAI, path: str) -> str:
    return str(client.base_url).rstrip("/") + path


def raw(client: openai.OpenAI, method: str, path: str) -> httpx2.Response:
    return httpx2.request(method, url(client, path), timeout=5)


def start(client: openai.OpenAI, lines: list[Any] = GOOD, **options: Any) -> Batch:
    uploaded = client.files.create(file=("articles.jsonl", jsonl(lines)), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h", **options
    )


def watch(spec: OpenAPI, client: openai.OpenAI, batch_id: str) -> list[dict[str, Any]]:
    """Every state the batch is seen in until it ends, each body checked against `Batch`."""
    seen, deadline = [], time.monotonic() + 10
    while time.monotonic() < deadline:
        seen.append(conform(spec, "Batch", raw(client, "GET", f"/batches/{batch_id}").json()))
        if seen[-1]["status"] in FINAL:
            return seen
        time.sleep(0.03)
    pytest.fail(f"batch {batch_id} never ended: {seen[-1]['status']}")


def lines_of(spec: OpenAPI, client: openai.OpenAI, file_id: str) -> list[dict[str, Any]]:
    conform(spec, "OpenAIFile", raw(client, "GET", f"/files/{file_id}").json())
    assert client.files.retrieve(file_id).purpose == "batch_output"
    found = [json.loads(text) for text in client.files.content(file_id).text.splitlines()]
    for line in found:
        jsonschema.validate(line, BATCH_REQUEST_OUTPUT)
        if line["response"] is not None:
            status, body = line["response"]["status_code"], line["response"]["body"]
            conform(
                spec, "CreateChatCompletionResponse" if status == 200 else "ErrorResponse", body
            )
    return found


def arguments(line: dict[str, Any]) -> str:
    (call,) = line["response"]["body"]["choices"][0]["message"]["tool_calls"]
    return str(call["function"]["arguments"])


def test_input_lines_of_these_tests_are_valid_batch_request_input() -> None:
    for line in GOOD:
        jsonschema.validate(line, BATCH_REQUEST_INPUT)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"custom_id": "a", "method": "GET"}, BATCH_REQUEST_INPUT)


def test_batch_goes_validating_in_progress_finalizing_completed_and_answers_every_line(
    spec: OpenAPI,
) -> None:
    with serve(duration=2.0) as (_, client):  # 0.2 s validating and finalizing
        created = start(client, metadata={"run": "nightly"})
        assert created.status == "validating"
        assert created.metadata == {"run": "nightly"}
        seen = watch(spec, client, created.id)
        statuses = [state["status"] for state in seen]
        order = ["validating", "in_progress", "finalizing", "completed"]
        assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == order
        counts = [state["request_counts"]["completed"] for state in seen]
        assert counts == sorted(counts)
        assert counts[-1] == len(GOOD)
        assert any(0 < count < len(GOOD) for count in counts), "counts never rose during the run"
        done = seen[-1]
        assert done["request_counts"] == {"total": len(GOOD), "completed": len(GOOD), "failed": 0}
        stamps = [
            done[name] for name in ("created_at", "in_progress_at", "finalizing_at", "completed_at")
        ]
        assert stamps == sorted(stamps)
        assert done["expires_at"] == done["created_at"] + 24 * 3600
        assert "error_file_id" not in done
        assert "errors" not in done
        assert done["usage"]["total_tokens"] > 0
        assert done["model"] == "gpt-fake"
        output = lines_of(spec, client, done["output_file_id"])
        assert sorted(line["custom_id"] for line in output) == sorted(IDS)
        assert [line["custom_id"] for line in output] != IDS, "written in input order"
        for line in output:
            assert line["response"]["status_code"] == 200
            assert line["error"] is None
            assert json.loads(arguments(line))["echo"] == f"about {line['custom_id']}"


def test_output_order_is_fixed_by_the_seed(spec: OpenAPI) -> None:
    orders = []
    for seed in (3, 3, 4):
        with serve(seed=seed) as (_, client):
            done = watch(spec, client, start(client).id)[-1]
            orders.append(
                [line["custom_id"] for line in lines_of(spec, client, done["output_file_id"])]
            )
    assert orders[0] == orders[1] != orders[2]


def test_failed_lines_answer_500_or_429_and_go_to_the_error_file(spec: OpenAPI) -> None:
    chosen = {"article-1", "article-5"}
    with serve(fail=chosen.__contains__) as (_, client):
        done = watch(spec, client, start(client).id)[-1]
        assert done["status"] == "completed"
        assert done["request_counts"] == {"total": 8, "completed": 6, "failed": 2}
        errors = lines_of(spec, client, done["error_file_id"])
        assert {line["custom_id"] for line in errors} == chosen
        for line in errors:
            assert line["response"]["status_code"] in (500, 429)
            assert line["response"]["body"]["error"]["message"]
        output = lines_of(spec, client, done["output_file_id"])
        assert {line["custom_id"] for line in output} == set(IDS) - chosen


def test_failed_share_fails_about_that_share_of_lines(spec: OpenAPI) -> None:
    lines = [request_line(f"n{n}") for n in range(200)]
    with serve(failed_share=0.25) as (_, client):
        done = watch(spec, client, start(client, lines).id)[-1]
        failed = done["request_counts"]["failed"]
        assert 25 <= failed <= 75
        assert done["request_counts"]["completed"] == 200 - failed
        assert len(lines_of(spec, client, done["error_file_id"])) == failed


def test_batch_whose_every_line_failed_completes_with_only_an_error_file(spec: OpenAPI) -> None:
    with serve(failed_share=1.0) as (_, client):
        done = watch(spec, client, start(client).id)[-1]
        assert done["status"] == "completed"
        assert "output_file_id" not in done
        assert done["request_counts"] == {"total": 8, "completed": 0, "failed": 8}
        assert len(lines_of(spec, client, done["error_file_id"])) == 8


def test_malformed_lines_are_200_with_arguments_that_are_not_json(spec: OpenAPI) -> None:
    with serve(malformed_share=1.0) as (_, client):
        done = watch(spec, client, start(client).id)[-1]
        assert done["request_counts"]["completed"] == 8
        for line in lines_of(spec, client, done["output_file_id"]):
            assert line["response"]["status_code"] == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(arguments(line))


def test_expired_batch_keeps_finished_lines_and_marks_the_rest_batch_expired(
    spec: OpenAPI,
) -> None:
    with serve(expire=True, expire_finished=0.5) as (_, client):
        seen = watch(spec, client, start(client).id)
        done = seen[-1]
        assert done["status"] == "expired"
        assert "finalizing" not in [s["status"] for s in seen]
        assert done["expired_at"] == done["expires_at"]
        assert "completed_at" not in done
        assert done["request_counts"] == {"total": 8, "completed": 4, "failed": 4}
        output = lines_of(spec, client, done["output_file_id"])
        expired = lines_of(spec, client, done["error_file_id"])
        assert len(output) == 4
        assert {line["custom_id"] for line in output + expired} == set(IDS)
        for line in expired:
            assert line["response"] is None
            assert line["error"]["code"] == "batch_expired"


def test_cancel_goes_cancelling_then_cancelled_and_keeps_finished_output(spec: OpenAPI) -> None:
    with serve(duration=1.0, cancel_duration=0.2) as (_, client):
        batch = start(client)
        time.sleep(0.5)  # about half the lines have finished
        cancelling = conform(
            spec, "Batch", client.batches.cancel(batch.id).model_dump(exclude_none=True)
        )
        assert cancelling["status"] == "cancelling"
        assert "cancelled_at" not in cancelling
        done = watch(spec, client, batch.id)[-1]
        assert done["status"] == "cancelled"
        assert done["cancelled_at"] >= done["cancelling_at"] >= done["in_progress_at"]
        kept = lines_of(spec, client, done["output_file_id"])
        dropped = lines_of(spec, client, done["error_file_id"])
        assert 0 < len(kept) < 8
        assert len(kept) + len(dropped) == 8
        assert done["request_counts"] == {
            "total": 8,
            "completed": len(kept),
            "failed": len(dropped),
        }
        assert all(line["error"]["code"] == "batch_cancelled" for line in dropped)
        refused = raw(client, "POST", f"/batches/{batch.id}/cancel")
        assert refused.status_code == 409
        assert conform(spec, "ErrorResponse", refused.json())


def test_cancel_while_validating_runs_no_line_and_fails_them_all_as_cancelled(
    spec: OpenAPI,
) -> None:
    with serve(duration=2.0, cancel_duration=0.1) as (_, client):
        batch = start(client)
        assert client.batches.cancel(batch.id).status == "cancelling"
        seen = watch(spec, client, batch.id)
        assert {state["status"] for state in seen} <= {"cancelling", "cancelled"}
        done = seen[-1]
        assert "in_progress_at" not in done
        assert "output_file_id" not in done
        assert done["request_counts"] == {"total": 8, "completed": 0, "failed": 8}
        dropped = lines_of(spec, client, done["error_file_id"])
        assert sorted(line["custom_id"] for line in dropped) == sorted(IDS)


def test_upload_larger_than_a_chat_request_body_is_accepted(spec: OpenAPI) -> None:
    """Uploads are streamed, so the 200 MB file limit is not the app's 16 MB body limit."""
    content = jsonl(GOOD) * (17 * 2**20 // len(jsonl(GOOD)) + 1)
    with serve() as (_, client):
        uploaded = client.files.create(file=("big.jsonl", content), purpose="batch")
        view = conform(spec, "OpenAIFile", raw(client, "GET", f"/files/{uploaded.id}").json())
        assert view["bytes"] == len(content) > 16 * 2**20


@pytest.mark.parametrize(
    ("lines", "code", "line"),
    [
        ([*GOOD[:2], "{not json"], "invalid_json_line", 3),
        ([GOOD[0], request_line("x", url="/v1/embeddings")], "mismatched_endpoint", 2),
        (
            [GOOD[0], {"custom_id": "y", "method": "POST", "url": ENDPOINT}],
            "missing_required_parameter",
            2,
        ),
        ([GOOD[0], request_line("z", method="GET")], "invalid_method", 2),
        ([GOOD[0], GOOD[1], GOOD[0]], "duplicate_custom_id", 3),
        ([request_line(f"m{n}") for n in range(4)], "too_many_requests", None),
        ([], "empty_file", None),
    ],
    ids=["not-json", "other-url", "no-body", "get", "duplicate", "too-many", "empty"],
)
def test_invalid_input_fails_the_whole_batch_with_its_errors(
    spec: OpenAPI, lines: list[Any], code: str, line: int | None
) -> None:
    with serve(max_requests=3) as (_, client):
        created = start(client, lines)
        assert created.status == "validating"  # the lines are checked after the create
        done = watch(spec, client, created.id)[-1]
        assert done["status"] == "failed"
        assert (code, line) in [(e["code"], e["line"]) for e in done["errors"]["data"]]
        assert "failed_at" in done
        assert "in_progress_at" not in done
        assert "output_file_id" not in done
        assert done["request_counts"]["completed"] == 0


def test_default_limit_fails_a_batch_of_50001_requests(spec: OpenAPI) -> None:
    small = {"custom_id": "", "method": "POST", "url": ENDPOINT, "body": {}}
    lines = [small | {"custom_id": f"r{n}"} for n in range(50_001)]
    with serve() as (_, client):
        done = watch(spec, client, start(client, lines).id)[-1]
        assert done["status"] == "failed"
        assert [e["code"] for e in done["errors"]["data"]] == ["too_many_requests"]


def post_file(client: openai.OpenAI, purpose: str, name: str, content: bytes) -> httpx2.Response:
    files = {"file": (name, content, "application/jsonl")}
    return httpx2.post(url(client, "/files"), data={"purpose": purpose}, files=files, timeout=5)


def test_bad_uploads_are_refused_with_openai_error_bodies(spec: OpenAPI) -> None:
    with serve(max_file_bytes=1000) as (_, client):
        for response, param in (
            (post_file(client, "fine-tune", "a.jsonl", b"{}\n"), "purpose"),
            (post_file(client, "nonsense", "a.jsonl", b"{}\n"), "purpose"),
            (post_file(client, "batch", "a.csv", b"{}\n"), "file"),
            (post_file(client, "batch", "a.jsonl", b"x" * 1001), "file"),
        ):
            assert response.status_code == 400, response.text
            assert conform(spec, "ErrorResponse", response.json())["error"]["param"] == param
        accepted = post_file(client, "batch", "a.jsonl", b"x" * 1000)
        assert conform(spec, "OpenAIFile", accepted.json())["bytes"] == 1000
        with pytest.raises(openai.BadRequestError):
            client.files.create(file=("a.jsonl", b"{}\n"), purpose="assistants")


def test_bad_batch_requests_are_refused_with_openai_error_bodies(spec: OpenAPI) -> None:
    with serve() as (_, client):
        file_id = client.files.create(file=("a.jsonl", jsonl(GOOD)), purpose="batch").id
        good = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h"}
        for changes, param in (
            ({"input_file_id": "file-missing"}, "input_file_id"),
            ({"endpoint": "/v1/nowhere"}, "endpoint"),
            ({"endpoint": "/v1/embeddings"}, "endpoint"),
            ({"completion_window": "48h"}, "completion_window"),
            ({"metadata": {"k": 1}}, "metadata"),
            ({"metadata": {f"k{n}": "v" for n in range(17)}}, "metadata"),
            ({"endpoint": None}, "endpoint"),
        ):
            body = {k: v for k, v in (good | changes).items() if v is not None}
            response = httpx2.post(url(client, "/batches"), json=body, timeout=5)
            assert response.status_code == 400, (changes, response.text)
            assert conform(spec, "ErrorResponse", response.json())["error"]["param"] == param
        for path in (
            "/batches/batch_missing",
            "/files/file-missing",
            "/files/file-missing/content",
        ):
            response = raw(client, "GET", path)
            assert response.status_code == 404
            assert conform(spec, "ErrorResponse", response.json())
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve("batch_missing")


def test_batches_list_newest_first_in_pages_with_has_more(spec: OpenAPI) -> None:
    with serve() as (_, client):
        made = [start(client, GOOD[:1]).id for _ in range(5)]
        first = conform(spec, "ListBatchesResponse", raw(client, "GET", "/batches?limit=2").json())
        assert [b["id"] for b in first["data"]] == made[::-1][:2]
        assert first["has_more"]
        assert first["last_id"] == made[3]
        last = raw(client, "GET", f"/batches?limit=2&after={made[1]}").json()
        assert [b["id"] for b in conform(spec, "ListBatchesResponse", last)["data"]] == [made[0]]
        assert not last["has_more"]
        assert [b.id for b in client.batches.list(limit=2)] == made[::-1]  # the SDK pages on
        for query in ("limit=0", "limit=101", "after=batch_missing"):
            response = raw(client, "GET", f"/batches?{query}")
            assert response.status_code == 400
            assert conform(spec, "ErrorResponse", response.json())


def test_files_are_retrieved_downloaded_and_deleted(spec: OpenAPI) -> None:
    with serve() as (_, client):
        content = jsonl(GOOD)
        uploaded = client.files.create(file=("articles.jsonl", content), purpose="batch")
        view = conform(spec, "OpenAIFile", raw(client, "GET", f"/files/{uploaded.id}").json())
        assert view == uploaded.model_dump(exclude_none=True)
        assert view["bytes"] == len(content)
        assert view["purpose"] == "batch"
        assert client.files.content(uploaded.id).read() == content
        deleted = raw(client, "DELETE", f"/files/{uploaded.id}").json()
        assert conform(spec, "DeleteFileResponse", deleted) == {
            "id": uploaded.id,
            "object": "file",
            "deleted": True,
        }
        with pytest.raises(openai.NotFoundError):
            client.files.retrieve(uploaded.id)


def test_command_line_options_build_the_batch_settings() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser)
    options = vars(
        parser.parse_args(
            ["--batch-duration", "5", "--batch-failed-share", "0.1", "--batch-expire"]
        )
    )
    assert pop_options(options) == BatchSettings(duration=5.0, failed_share=0.1, expire=True)
    assert options == {}
    assert pop_options(vars(parser.parse_args([]))) == BatchSettings()


@pytest.mark.parametrize(
    "bad",
    [{"duration": 0}, {"failed_share": 1.5}, {"expire_finished": -0.1}, {"max_requests": 0}],
)
def test_batch_settings_refuse_impossible_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        BatchSettings(**bad)
