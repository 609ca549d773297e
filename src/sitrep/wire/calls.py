"""The record of one model call, and the two things the send loop may be given to keep them.

A `CallLog` keeps every call: what it was for (article, model, prompt and schema versions),
its status, usage, latency and raw response, and, for a call that got no usable answer, what
became of it (`Call.outcome`: "request timeout after 600 s", "connection refused", an answer
the server stopped early). A call that got no HTTP answer at all has status `NO_STATUS`. A
`ResponseCache` answers a request that was already paid for with the same bytes, from a
successful answer with no such outcome. The batch's ledger (`sitrep.run.ledger.Ledger`) is both;
anything with the same methods will do.

A request is identified by `request_hash`: its method, path and body (as `encode_request`
writes it). Model, messages, schema and every parameter are in the body, so two requests with
the same hash would get the same answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class CallTag:
    """What a request is for, carried beside it to the call log; never sent to the endpoint."""

    article_id: str | None = None
    prompt_version: str | None = None
    schema_version: str | None = None


# The status of a call that got no HTTP answer (a timeout, a refused or reset connection):
# never an HTTP status, which run from 100 to 599.
NO_STATUS = 0


@dataclass(frozen=True, slots=True)
class Call:
    """One model call as it happened, or as it was answered from the cache.

    `outcome` is None for an answer as it came; otherwise it says what the call came to: why no
    answer came (`status` is then `NO_STATUS` and there is no response), or why an answer with a
    success status could not be used.
    """

    article_id: str | None
    request_hash: str
    status: int
    latency_ms: float
    prompt_tokens: int | None
    completion_tokens: int | None
    request_id: str | None
    response: bytes | None
    from_cache: bool = False
    model: str | None = None
    prompt_version: str | None = None
    schema_version: str | None = None
    outcome: str | None = None
    cached_tokens: int | None = None  # of prompt_tokens, answered from the prompt cache
    # For a line of an OpenAI Batch API output or error file: its batch, and its cost at batch
    # prices (an interactive call's cost is counted with its article's).
    batch_id: str | None = None
    cost: float | None = None


class CallLog(Protocol):
    def log_call(self, call: Call) -> None:
        """Keep `call`; it must not raise for a call it has seen before."""


class ResponseCache(Protocol):
    def cached_response(self, request_hash: str) -> bytes | None:
        """The body of a successful answer already paid for with this request, if any: a 200
        with no `Call.outcome`, never a call that got no answer or an unusable one."""


def encode_request(request: Mapping[str, Any]) -> bytes:
    """The bytes a request body is sent as: JSON as the openai SDK encodes a body (compact,
    UTF-8, no NaN), so that a body posted by sitrep or by the SDK hashes alike."""
    return json.dumps(request, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def request_hash(method: str, path: str, body: bytes) -> str:
    """The identity of a request: its method, its URL path and its body's bytes."""
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()
