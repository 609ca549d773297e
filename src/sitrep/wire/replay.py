"""Answer model requests from recorded vcrpy cassettes instead of the network.

`--replay DIR` loads every cassette in DIR and serves each request the response recorded for the
same method, path and JSON body, each recorded response once, in order. A request with no
recorded answer is an error naming what to do; nothing is ever sent over the network.

vcrpy's own `use_cassette` patches HTTP libraries globally for one cassette at a time; a batch
replays many cassettes from concurrent tasks, so this is an httpx2 transport over cassettes read
with vcrpy's own loader. Requests are looked up by a hash of method, path and body, because
vcrpy's matchers compare against every recording in turn and diff each mismatched body, which
takes seconds per request once a directory holds many cassettes.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import vcr
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from sitrep.errors import ReplayError
from sitrep.wire.calls import request_hash

# Headers that may carry a credential or an account name; never written to a cassette.
SCRUBBED_HEADERS = (
    "authorization",
    "api-key",
    "x-api-key",
    "openai-organization",
    "openai-project",
    "cookie",
    "set-cookie",
)


def recorder(record_mode: str = "none") -> vcr.VCR:
    """The vcrpy settings every cassette is recorded and replayed with.

    Replay-only by default; matching on method, path and body makes a changed prompt or schema
    fail loudly instead of replaying a stale answer.
    """
    return vcr.VCR(
        record_mode=record_mode,
        match_on=("method", "path", "body"),
        filter_headers=SCRUBBED_HEADERS,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in SCRUBBED_HEADERS:
            del headers[name]
    return response


class Recordings:
    """Every cassette in a directory, indexed by request for constant-time lookups."""

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir():
            raise ReplayError(f"replay directory {directory} does not exist")
        files = sorted(directory.glob("*.yaml"))
        if not files:
            raise ReplayError(f"replay directory {directory} holds no .yaml cassettes")
        self.directory = directory
        self._unplayed: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for file in files:
            requests, responses = deserialize(file.read_text("utf-8"), yamlserializer)[:2]
            for recorded, response in zip(requests, responses, strict=True):
                key = _key(recorded.method, urlsplit(recorded.uri).path, recorded.body)
                self._unplayed[key].append(response)
        self._lock = threading.Lock()

    def respond(self, request: httpx2.Request) -> httpx2.Response:
        key = _key(request.method, request.url.path, request.content)
        with self._lock:
            waiting = self._unplayed.get(key)
            recorded = waiting.popleft() if waiting else None
        if recorded is None:
            raise ReplayError(
                f"no recorded response in {self.directory} matches {request.method} "
                f"{request.url.path}: the prompt, schema, model or article differs from the "
                "recording (re-record with a live endpoint), or it was already played"
            )
        return _to_response(recorded, request)


def _key(method: str, path: str, body: bytes | str | None) -> str:
    """The request's hash, a JSON body compared as data (as vcrpy's matcher does), not as text."""
    raw = body.encode() if isinstance(body, str) else body or b""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    return request_hash(method, path, canonical)


class ReplayTransport(httpx2.BaseTransport):
    def __init__(self, recordings: Recordings) -> None:
        self._recordings = recordings

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return self._recordings.respond(request)


class AsyncReplayTransport(httpx2.AsyncBaseTransport):
    def __init__(self, recordings: Recordings) -> None:
        self._recordings = recordings

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return self._recordings.respond(request)


def replay_clients(directory: Path) -> tuple[httpx2.Client, httpx2.AsyncClient]:
    """HTTP clients for `Extractor` that answer from the cassettes in `directory`."""
    recordings = Recordings(directory)
    return (
        httpx2.Client(transport=ReplayTransport(recordings)),
        httpx2.AsyncClient(transport=AsyncReplayTransport(recordings)),
    )


# Bodies are handed on decoded, so the recorded length and encoding headers no longer apply.
_STALE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _to_response(recorded: dict[str, Any], request: httpx2.Request) -> httpx2.Response:
    headers = [
        (name, value)
        for name, values in recorded["headers"].items()
        for value in values
        if name.lower() not in _STALE_HEADERS
    ]
    return httpx2.Response(
        int(recorded["status"]["code"]),
        headers=headers,
        content=recorded["body"]["string"],
        request=request,
    )
