"""The OpenAI Batch API's files: request lines written within its limits, result lines read.

    requests (custom_id, the exact body bytes) → input files of at most `max_requests` lines
    and `max_bytes` bytes, each written whole and synced before the ledger names it
    output and error files → one `ResultLine` per line, matched to its request by custom_id

A request line is `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`, its
body the very bytes the interactive sender would post (`sitrep.wire.calls.encode_request`), so
that a request hashes alike whichever path sends it and an answer is found by that hash.

A result line is read as the API writes it: `response` (with `status_code`, `request_id` and the
chat completion `body`) or `error` (`code`, `message`), either one null. Only a 2xx
`status_code` is an answer; any other is that request's failure, whatever file it came in. A
line that cannot be read (not JSON, no custom_id) is reported, never guessed at: its request is
then unanswered and goes in a later batch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from sitrep.wire.calls import NO_STATUS, encode_request

CHAT_COMPLETIONS: Final = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One request of a batch: its `custom_id`, its body's bytes, and whose it is."""

    custom_id: str
    request_hash: str
    article_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class InputFile:
    """A batch input file as written: its path and the requests in it, in order."""

    path: Path
    requests: list[BatchRequest]
    size: int


@dataclass(frozen=True, slots=True)
class ResultLine:
    """One line of an output or error file.

    `status` is the line's `status_code`, or `NO_STATUS` for a line with only an `error` (a
    request the batch never ran); `body` is the response body's JSON bytes, if there is one.
    """

    custom_id: str
    status: int
    body: bytes | None
    request_id: str | None
    error: str | None

    @property
    def answered(self) -> bool:
        return 200 <= self.status < 300 and self.body is not None


def request_line(request: BatchRequest) -> bytes:
    """The input line of `request`, its body spliced in as it is (never re-encoded)."""
    head = encode_request({"custom_id": request.custom_id, "method": "POST"})[:-1]
    return b'%s,"url":"%s","body":%s}\n' % (head, CHAT_COMPLETIONS.encode(), request.body)


class InputFileWriter:
    """Requests written into input files as they come, `name`-1.jsonl, -2 ..., each closed and
    synced once the next request would pass a limit; only the file being written is held."""

    def __init__(self, directory: Path, *, name: str, max_requests: int, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._name = name
        self._max_requests = max_requests
        self._max_bytes = max_bytes
        self._number = 0
        self._out: BinaryIO | None = None
        self._held: list[BatchRequest] = []
        self._size = 0

    def add(self, request: BatchRequest) -> InputFile | None:
        """Write `request`; the file it closed to make room, if it did. A request too large
        for a file of its own raises."""
        line = request_line(request)
        if len(line) > self._max_bytes:
            raise ValueError(
                f"request {request.custom_id} is {len(line):,} bytes, over the batch file "
                f"limit of {self._max_bytes:,}"
            )
        full = len(self._held) == self._max_requests or self._size + len(line) > self._max_bytes
        finished = self._finish() if self._held and full else None
        if self._out is None:
            self._number += 1
            self._out = self._path.open("wb")
        self._out.write(line)
        self._held.append(request)
        self._size += len(line)
        return finished

    def close(self) -> InputFile | None:
        """Close the file being written, if any, and return it."""
        return self._finish() if self._held else None

    @property
    def _path(self) -> Path:
        return self._directory / f"{self._name}-{self._number}.jsonl"

    def _finish(self) -> InputFile:
        assert self._out is not None
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        file = InputFile(self._path, self._held, self._size)
        self._out, self._held, self._size = None, [], 0
        return file


def read_result_lines(content: bytes) -> tuple[list[ResultLine], list[str]]:
    """The lines of an output or error file, and a problem for each line that cannot be read."""
    results: list[ResultLine] = []
    problems: list[str] = []
    for number, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            results.append(_result(json.loads(raw)))
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"line {number}: {exc}: {raw[:120]!r}")
    return results, problems


def _result(line: Any) -> ResultLine:
    if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
        raise ValueError("not an object with a string custom_id")
    response = line.get("response")
    error = line.get("error")
    message = None
    if isinstance(error, dict):
        message = f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip()
    if not isinstance(response, dict):
        return ResultLine(line["custom_id"], NO_STATUS, None, None, message or "no response")
    status = response.get("status_code")
    if not isinstance(status, int):
        raise ValueError("a response with no integer status_code")
    body = response.get("body")
    request_id = response.get("request_id")
    if not 200 <= status < 300 and message is None:
        message = _body_error(body) or f"status {status}"
    return ResultLine(
        line["custom_id"],
        status,
        encode_request(body) if isinstance(body, dict) else None,
        request_id if isinstance(request_id, str) else None,
        message,
    )


def _body_error(body: object) -> str | None:
    """The message of an OpenAI error body (`{"error": {"message", "type", "code"}}`)."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    kind = error.get("code") or error.get("type") or "error"
    return f"{kind}: {error.get('message') or ''}".strip()
