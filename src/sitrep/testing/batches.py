"""OpenAI's Files and Batch endpoints for the fake server, registered on the same aiohttp app.

    POST /v1/files              multipart `purpose` and `file`; only `purpose=batch` (.jsonl)
    GET  /v1/files/{id}         the `OpenAIFile` object
    GET  /v1/files/{id}/content the file's bytes
    DELETE /v1/files/{id}       `{"id", "object": "file", "deleted": true}`
    POST /v1/batches            `input_file_id`, `endpoint`, `completion_window`, `metadata`
    GET  /v1/batches/{id}       the `Batch` object, its status computed from the clock
    POST /v1/batches/{id}/cancel
    GET  /v1/batches            newest first, `limit` (1-100, default 20) and `after`, `has_more`

What is modelled. A batch is time-based: for `BatchSettings.duration` seconds after its creation
it is `validating` (the first tenth), `in_progress` (request counts rise as its lines finish, one
after another in a seeded order that is not the input order), `finalizing` (the last tenth), then
`completed`. Every line is answered by `ServerSettings.answer` (request body -> arguments JSON),
its body built as the interactive endpoint builds it. Succeeded lines go to the output file
(`purpose=batch_output`), failed ones (status 500 or 429 with an error body; `failed_share` of
the lines, or those `fail` picks by custom_id) to the error file; a batch whose every line failed
completes with an error file and no `output_file_id`. `malformed_share` of the lines get a 200
whose tool arguments are not valid JSON. With `expire` the batch runs out of its window after
`expire_finished` of its lines: status `expired`, the finished lines in the output file and the
rest in the error file with code `batch_expired`. A cancel makes it `cancelling` for
`cancel_duration` seconds, then `cancelled`: lines finished before the cancel are kept in the
output file. As the real API does, a bad request is refused at once (400 with OpenAI's error
body: a purpose other than batch, a file that is not .jsonl or over the size limit, an unknown or
non-batch input file, an endpoint or window it does not take, bad metadata), while the input's
lines are checked during `validating`: any line that is not a JSON object with a string
`custom_id`, `method` "POST", `url` equal to the batch's endpoint and an object `body`, any
repeated `custom_id`, an empty file or more than `max_requests` lines fails the whole batch
(status `failed`, `errors` listing each problem with its line number).

What is not. Only /v1/chat/completions is served; the 24 h window is not waited for (`expires_at`
is 24 h after creation unless `expire` is set, when it is the end of `duration`); files never
expire; there is no `GET /v1/files` listing, no `output_expires_after`, no per-model queue limit
and no check that the lines name a single model. A cancel is refused (409) once the batch is
finalizing or finished. The real API does not document what a cancel
does with unfinished lines: here they go to the error file with code `batch_cancelled`, so that
every input line is accounted for. Error codes for bad lines are this server's own where OpenAI's
are not documented. Unset fields are left out rather than sent as null: the description types
them as strings, not nullable, and the SDK reads a missing field as None. Timestamps are whole
seconds, as OpenAI sends them.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from aiohttp import BodyPartReader, web

from sitrep.testing.completions import (
    answer_message,
    chat_completion,
    error_body,
    malformed_arguments,
    usage,
)

ENDPOINT = "/v1/chat/completions"
MAX_REQUESTS = 50_000  # lines in one batch's input file, as OpenAI allows
MAX_FILE_BYTES = 200 * 2**20  # a batch input file's size, as OpenAI allows
DAY = 24 * 3600
_ENDPOINTS = (  # the endpoints the description lists for a batch
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
_FINAL = ("completed", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class BatchSettings:
    """How batches behave. Shares are drawn per line from the seed, so a seed fixes them."""

    duration: float = 2.0  # seconds from creation to completion
    cancel_duration: float = 0.2  # seconds a cancelled batch stays `cancelling`
    failed_share: float = 0.0  # share of lines answered 500 or 429; 1.0 fails them all
    malformed_share: float = 0.0  # share of lines answered 200 with arguments that are not JSON
    expire: bool = False  # the batch expires after `expire_finished` of its lines
    expire_finished: float = 0.5  # share of lines finished when it expires
    max_requests: int = MAX_REQUESTS
    max_file_bytes: int = MAX_FILE_BYTES
    fail: Callable[[str], bool] | None = None  # custom_id -> whether that line fails

    def __post_init__(self) -> None:
        if self.duration <= 0 or self.cancel_duration < 0:
            raise ValueError("batch duration must be positive, cancel_duration not negative")
        for name in ("failed_share", "malformed_share", "expire_finished"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.max_requests < 1 or self.max_file_bytes < 1:
            raise ValueError("max_requests and max_file_bytes must be positive")


def add_options(parser: argparse.ArgumentParser) -> None:
    """`--batch-<setting>` for each setting but the `fail` function."""
    for item in fields(BatchSettings):
        if item.name == "fail":
            continue
        option = f"--batch-{item.name.replace('_', '-')}"
        if item.name == "expire":
            parser.add_argument(option, action="store_true", dest="batch_expire")
        else:
            kind = int if item.name.startswith("max_") else float
            parser.add_argument(option, type=kind, default=item.default, dest=f"batch_{item.name}")


def pop_options(options: dict[str, Any]) -> BatchSettings:
    """The BatchSettings the `--batch-*` options name, removed from `options`."""
    names = [item.name for item in fields(BatchSettings) if item.name != "fail"]
    return BatchSettings(**{name: options.pop(f"batch_{name}") for name in names})


_REFUSALS = {400: web.HTTPBadRequest, 404: web.HTTPNotFound, 409: web.HTTPConflict}


def _error(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> web.HTTPException:
    """A refusal with OpenAI's error body, to raise: aiohttp sends a raised HTTPException."""
    body = json.dumps(error_body(message, "invalid_request_error", code, param))
    return _REFUSALS[status](text=body, content_type="application/json")


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    created_at: int
    content: bytes

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }


@dataclass
class _Line:
    custom_id: str
    output: dict[str, Any]  # the BatchRequestOutput line, once answered
    ok: bool
    tokens: tuple[int, int]  # prompt, completion


@dataclass
class _Batch:
    id: str
    input_file_id: str
    metadata: dict[str, str] | None
    created: float
    duration: float
    expire: bool
    errors: list[dict[str, Any]]  # validation problems: the batch fails if any
    lines: list[_Line]  # in the order they finish
    finishing: int  # how many lines finish before the end (fewer when it expires)
    model: str | None
    cancelled: float | None = None
    files: dict[str, str] = field(default_factory=dict)  # "output"/"error" -> file id
    written: bool = False  # whether its files have been made (it has finished)

    def times(self) -> dict[str, float]:
        d = self.duration
        return {"in_progress": self.created + 0.1 * d, "finalizing": self.created + 0.9 * d}

    def finished(self, now: float) -> int:
        """Lines finished by `now` (before a cancel, if there was one)."""
        start, end = self.times()["in_progress"], self.times()["finalizing"]
        if self.expire:
            end = start + (end - start) * (self.finishing / max(len(self.lines), 1))
        if self.cancelled is not None:
            now = min(now, self.cancelled)
        if not self.lines or not self.finishing or now < start:
            return 0  # an expiry with no line finished has no span to finish them in
        return min(int((now - start) / (end - start) * self.finishing), self.finishing)


class BatchEndpoints:
    """The files and batches, held in memory by the server's event loop."""

    def __init__(
        self,
        settings: BatchSettings,
        answer: Callable[[dict[str, Any]], str] | None,
        default_arguments: str,
        seed: int,
    ) -> None:
        self.settings, self._answer, self._default = settings, answer, default_arguments
        self._seed = seed
        self._files: dict[str, _File] = {}
        self._batches: dict[str, _Batch] = {}
        self._serial = 0

    def register(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{id}", self._file)
        app.router.add_get("/v1/files/{id}/content", self._content)
        app.router.add_delete("/v1/files/{id}", self._delete)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches", self._list)
        app.router.add_get("/v1/batches/{id}", self._retrieve)
        app.router.add_post("/v1/batches/{id}/cancel", self._cancel)

    def _next(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{self._serial:06d}"

    # --- files -----------------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            raise _error(400, "The request must be multipart/form-data.")
        parts, limit = await request.multipart(), self.settings.max_file_bytes
        purpose, filename, content = None, "", b""
        while (part := await parts.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart: not something the SDK sends
            reader = part
            if reader.name == "purpose":
                purpose = (await reader.text()).strip()
            elif reader.name == "file":
                filename, chunks, size = reader.filename or "", [], 0
                while chunk := await reader.read_chunk():
                    size += len(chunk)
                    if size > limit:  # streamed and stopped: a large upload is never held whole
                        raise _error(400, f"File is too large: the limit is {limit} bytes.", "file")
                    chunks.append(chunk)
                content = b"".join(chunks)
        if purpose is None:
            raise _error(400, "Missing required parameter: 'purpose'.", "purpose")
        if purpose != "batch":
            message = f"Invalid value for 'purpose': {purpose!r}. This server takes only 'batch'."
            raise _error(400, message, "purpose")
        if not filename:
            raise _error(400, "Missing required parameter: 'file'.", "file")
        if not filename.endswith(".jsonl"):
            raise _error(400, "Invalid file format for Batch API. Must be .jsonl", "file")
        file = _File(self._next("file-fake"), filename, purpose, int(time.time()), content)
        self._files[file.id] = file
        return web.json_response(file.view())

    def _found(self, request: web.Request) -> _File:
        file_id = request.match_info["id"]
        self._settle()
        if file_id not in self._files:
            raise _error(404, f"No such File object: {file_id}", "id")
        return self._files[file_id]

    async def _file(self, request: web.Request) -> web.Response:
        return web.json_response(self._found(request).view())

    async def _content(self, request: web.Request) -> web.Response:
        file = self._found(request)
        return web.Response(body=file.content, content_type="application/octet-stream")

    async def _delete(self, request: web.Request) -> web.Response:
        file = self._found(request)
        del self._files[file.id]
        return web.json_response({"id": file.id, "object": "file", "deleted": True})

    # --- batches ---------------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _error(400, "We could not parse the JSON body of your request.")
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body.get(name), str):
                raise _error(400, f"Missing required parameter: '{name}'.", name)
        endpoint, window = body["endpoint"], body["completion_window"]
        if endpoint not in _ENDPOINTS:
            message = f"Invalid value: {endpoint!r}. Supported values are: {list(_ENDPOINTS)}."
            raise _error(400, message, "endpoint", "invalid_value")
        if endpoint != ENDPOINT:
            message = f"This server runs only {ENDPOINT} batches, not {endpoint}."
            raise _error(400, message, "endpoint", "invalid_value")
        if window != "24h":
            message = f"Invalid value: {window!r}. Supported values are: ['24h']."
            raise _error(400, message, "completion_window", "invalid_value")
        metadata = body.get("metadata")
        if problem := _metadata_problem(metadata):
            raise _error(400, problem, "metadata")
        file = self._files.get(body["input_file_id"])
        if file is None:
            message = f"No such File object: {body['input_file_id']}"
            raise _error(400, message, "input_file_id")
        if file.purpose != "batch":
            message = f"The input file must have purpose 'batch', not {file.purpose!r}."
            raise _error(400, message, "input_file_id")
        batch = self._build(self._next("batch_fake"), file, metadata)
        self._batches[batch.id] = batch
        return web.json_response(self._view(batch))

    def _build(self, batch_id: str, file: _File, metadata: dict[str, str] | None) -> _Batch:
        s = self.settings
        requests, errors = _parse(file.content, s.max_requests)
        rng = random.Random(f"{self._seed}:{batch_id}")
        lines = [] if errors else [self._line(batch_id, n, r, rng) for n, r in enumerate(requests)]
        rng.shuffle(lines)  # they finish, and are written, in an order that is not the input's
        finishing = round(len(lines) * s.expire_finished) if s.expire else len(lines)
        model = str(requests[0]["body"].get("model", "")) if requests and not errors else None
        return _Batch(
            batch_id,
            file.id,
            metadata,
            time.time(),
            s.duration,
            s.expire,
            errors,
            lines,
            finishing,
            model or None,
        )

    def _line(
        self, batch_id: str, number: int, request: dict[str, Any], rng: random.Random
    ) -> _Line:
        s, custom_id, body = self.settings, request["custom_id"], request["body"]
        failed = rng.random() < s.failed_share or (s.fail is not None and s.fail(custom_id))
        malformed = rng.random() < s.malformed_share
        request_id = f"req_fake_{batch_id}_{number}"
        output: dict[str, Any] = {"id": f"batch_req_fake_{batch_id}_{number}"}
        output["custom_id"] = custom_id
        if failed:
            status = rng.choice((500, 429))
            reply = (
                error_body("The server had an error processing your request.", "server_error", None)
                if status == 500
                else error_body("Rate limit reached.", "requests", "rate_limit_exceeded")
            )
            output["response"] = {"status_code": status, "request_id": request_id, "body": reply}
            output["error"] = None
            return _Line(custom_id, output, False, (0, 0))
        arguments = self._answer(body) if self._answer else self._default
        if malformed:
            arguments = malformed_arguments(arguments)
        prompt = len(json.dumps(body)) // 4
        completion = max(len(arguments) // 4, 1)
        reply = chat_completion(
            completion_id=f"chatcmpl-fake-{batch_id}-{number}",
            model=str(body.get("model", "fake")),
            created=int(time.time()),
            answer=answer_message(body, arguments, f"call_fake_{batch_id}_{number}"),
            finish_reason="stop",
            token_usage=usage(prompt, completion),
        )
        output["response"] = {"status_code": 200, "request_id": request_id, "body": reply}
        output["error"] = None
        return _Line(custom_id, output, True, (prompt, completion))

    async def _retrieve(self, request: web.Request) -> web.Response:
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            raise _error(404, f"No batch found with id '{request.match_info['id']}'.", "id")
        return web.json_response(self._view(batch))

    async def _cancel(self, request: web.Request) -> web.Response:
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            raise _error(404, f"No batch found with id '{request.match_info['id']}'.", "id")
        status = self._status(batch, time.time())
        if status in _FINAL or status == "finalizing":
            raise _error(409, f"Cannot cancel a batch with status '{status}'.")
        if batch.cancelled is None:
            batch.cancelled = time.time()
        return web.json_response(self._view(batch))

    async def _list(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise _error(400, "Invalid 'limit': it must be between 1 and 100.", "limit")
        newest = sorted(self._batches.values(), key=lambda b: (b.created, b.id), reverse=True)
        after = request.query.get("after")
        if after is not None:
            ids = [b.id for b in newest]
            if after not in ids:
                raise _error(400, f"No batch found with id '{after}'.", "after")
            newest = newest[ids.index(after) + 1 :]
        page = newest[:limit]
        body: dict[str, Any] = {"object": "list", "data": [self._view(b) for b in page]}
        if page:
            body |= {"first_id": page[0].id, "last_id": page[-1].id}
        return web.json_response(body | {"has_more": len(newest) > limit})

    # --- the lifecycle ---------------------------------------------------------------------------

    def _status(self, batch: _Batch, now: float) -> str:
        if batch.cancelled is not None:  # accepted only before finalizing, so it always wins
            done = now >= batch.cancelled + self.settings.cancel_duration
            return "cancelled" if done else "cancelling"
        times, end = batch.times(), batch.created + batch.duration
        if now < times["in_progress"]:
            return "validating"
        if batch.errors:
            return "failed"
        if batch.expire and now >= end:
            return "expired"
        if now < times["finalizing"] or (batch.expire and batch.finishing < len(batch.lines)):
            return "in_progress"
        return "finalizing" if now < end else "completed"

    def _settle(self) -> None:
        """Make the output and error files of every batch that has finished."""
        now = time.time()
        for batch in self._batches.values():
            if not batch.written and self._status(batch, now) in _FINAL:
                self._write_files(batch, now)

    def _write_files(self, batch: _Batch, now: float) -> None:
        done = batch.finished(now)
        kept, rest = batch.lines[:done], batch.lines[done:]
        status = self._status(batch, now)
        code = "batch_expired" if status == "expired" else "batch_cancelled"
        reason = (
            "This request could not be executed before the completion window expired."
            if status == "expired"
            else "This request was not executed: the batch was cancelled."
        )
        unfinished = [
            {
                "id": line.output["id"],
                "custom_id": line.custom_id,
                "response": None,
                "error": {"code": code, "message": reason},
            }
            for line in rest
        ]
        outputs = [line.output for line in kept if line.ok]
        failures = [line.output for line in kept if not line.ok] + unfinished
        for kind, items in (("output", outputs), ("error", failures)):
            if items:
                content = "".join(json.dumps(item) + "\n" for item in items).encode()
                name = f"{batch.id}_{kind}.jsonl"
                file = _File(self._next("file-fake"), name, "batch_output", int(now), content)
                self._files[file.id] = file
                batch.files[kind] = file.id
        batch.written = True

    def _view(self, batch: _Batch) -> dict[str, Any]:
        """The `Batch` object as of now."""
        self._settle()
        now = time.time()
        status, times = self._status(batch, now), batch.times()
        end = batch.created + batch.duration
        view: dict[str, Any] = {
            "id": batch.id,
            "object": "batch",
            "endpoint": ENDPOINT,
            "input_file_id": batch.input_file_id,
            "completion_window": "24h",
            "status": status,
            "created_at": int(batch.created),
        }
        if batch.model:
            view["model"] = batch.model
        if batch.errors and status == "failed":
            view["errors"] = {"object": "list", "data": batch.errors}
        for kind in ("output", "error"):
            if kind in batch.files:
                view[f"{kind}_file_id"] = batch.files[kind]
        stamps = {"expires_at": end if batch.expire else batch.created + DAY}
        if status != "validating" and not (status in ("cancelling", "cancelled") and _early(batch)):
            stamps["in_progress_at" if not batch.errors else "failed_at"] = times["in_progress"]
        if status in ("finalizing", "completed"):
            stamps["finalizing_at"] = times["finalizing"]
        if status == "completed":
            stamps["completed_at"] = end
        if status == "expired":
            stamps["expired_at"] = end
        if batch.cancelled is not None and status in ("cancelling", "cancelled"):
            stamps["cancelling_at"] = batch.cancelled
            if status == "cancelled":
                stamps["cancelled_at"] = batch.cancelled + self.settings.cancel_duration
        view |= {name: int(value) for name, value in stamps.items()}
        done = batch.lines[: batch.finished(now)] if status != "validating" else []
        completed = sum(line.ok for line in done)
        if status in ("expired", "cancelled"):
            failed = len(batch.lines) - completed
        else:
            failed = len(done) - completed
        view["request_counts"] = {
            "total": len(batch.lines),
            "completed": completed,
            "failed": failed,
        }
        prompt = sum(line.tokens[0] for line in done)
        completion = sum(line.tokens[1] for line in done)
        view["usage"] = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion,
        }
        return view | {"metadata": batch.metadata}


def _early(batch: _Batch) -> bool:
    """Whether the batch was cancelled while still validating."""
    return batch.cancelled is not None and batch.cancelled < batch.times()["in_progress"]


def _metadata_problem(metadata: object) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or len(metadata) > 16:
        return "Invalid 'metadata': expected an object of at most 16 string pairs."
    for key, value in metadata.items():
        if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
            return f"Invalid 'metadata.{key}': keys are at most 64 characters, values 512."
    return None


def _parse(content: bytes, max_requests: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input file's requests, and a BatchError for each problem in it."""
    errors: list[dict[str, Any]] = []

    def problem(code: str, message: str, line: int | None, param: str | None = None) -> None:
        errors.append({"code": code, "message": message, "param": param, "line": line})

    requests, seen = [], set()
    lines = [text for text in content.decode("utf-8", "replace").splitlines() if text.strip()]
    if not lines:
        problem("empty_file", "The input file holds no requests.", None)
    if len(lines) > max_requests:
        message = f"The input file holds {len(lines)} requests; the limit is {max_requests}."
        problem("too_many_requests", message, None)
    for number, text in enumerate(lines, 1):
        try:
            item = json.loads(text)
        except ValueError:
            item = None
        if not isinstance(item, dict):
            problem("invalid_json_line", "This line is not a valid JSON object.", number)
            continue
        for name, kind in (("custom_id", str), ("method", str), ("url", str), ("body", dict)):
            if not isinstance(item.get(name), kind):
                problem("missing_required_parameter", f"Missing '{name}'.", number, name)
        if item.get("method") not in (None, "POST"):
            problem("invalid_method", "The method must be POST.", number, "method")
        if isinstance(item.get("url"), str) and item["url"] != ENDPOINT:
            message = f"The url must be the batch's endpoint, {ENDPOINT}."
            problem("mismatched_endpoint", message, number, "url")
        custom_id = item.get("custom_id")
        if isinstance(custom_id, str):
            if custom_id in seen:
                message = f"The custom_id {custom_id!r} is not unique in the file."
                problem("duplicate_custom_id", message, number, "custom_id")
            seen.add(custom_id)
        requests.append(item)
    return requests, errors
