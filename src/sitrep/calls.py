"""The batch's view of the wire: every model call logged, cached and shown to the rate limiter.

`LoggedTransport` wraps the HTTP transport the openai SDK sends through. For each request it
looks up the response cache first (an identical request already answered, in this run or an
earlier one, is never paid twice), otherwise waits for one of the `max_in_flight` request slots
and the rate limiter, sends it, then logs the call in the ledger (request hash, status, usage,
latency, raw response) and tells the rate limiter what the server said. The article a call
belongs to travels in a context variable set by the batch task.

The slot is held for the request alone, not for the article around it: while one article's
answer is parsed and checked, or its retry waits out a backoff, the next article's request,
built in advance, takes its place on the wire at once. An idle connection is not free: the
connection pool probes every idle socket each time it assigns a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from contextvars import ContextVar

import httpx2

from sitrep.costs import estimate_tokens
from sitrep.ledger import Call, Ledger
from sitrep.ratelimit import RateLimiter

current_article: ContextVar[str | None] = ContextVar("sitrep_current_article", default=None)
# Set for an article retried after failing: the answer it got before is not served again.
fresh_answers: ContextVar[bool] = ContextVar("sitrep_fresh_answers", default=False)

_PROMPT_TOKENS = re.compile(rb'"prompt_tokens"\s*:\s*(\d+)')
_COMPLETION_TOKENS = re.compile(rb'"completion_tokens"\s*:\s*(\d+)')

# Bodies are handed on decoded, so the wire's length and encoding headers no longer apply.
_STALE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def request_hash(request: httpx2.Request) -> str:
    """Method, path and body: model, messages, schema and every parameter are in the body."""
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(request.content)
    return digest.hexdigest()


def rebuilt_response(
    status: int, headers: list[tuple[str, str]], content: bytes, request: httpx2.Request
) -> httpx2.Response:
    return httpx2.Response(
        status,
        headers=[(k, v) for k, v in headers if k.lower() not in _STALE_HEADERS],
        content=content,
        request=request,
    )


class LoggedTransport(httpx2.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        ledger: Ledger,
        *,
        limiter: RateLimiter | None = None,
        expected_output_tokens: int = 1000,
        use_cache: bool = True,
        max_in_flight: int | None = None,
    ) -> None:
        self._inner = inner
        self._slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None
        self._ledger = ledger
        self._limiter = limiter
        self._expected_output = expected_output_tokens
        self._use_cache = use_cache

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        digest = request_hash(request)
        article_id = current_article.get()
        use_cache = self._use_cache and not fresh_answers.get()
        if use_cache and (cached := self._ledger.cached_response(digest)) is not None:
            self._ledger.log_call(
                _call(
                    article_id,
                    digest,
                    200,
                    latency_ms=0.0,
                    content=cached,
                    request_id=None,
                    from_cache=True,
                )
            )
            return rebuilt_response(200, [("content-type", "application/json")], cached, request)
        async with self._slots or contextlib.nullcontext():
            # The slot before the limiter: a reservation is stamped when the request goes out.
            reservation = None
            if self._limiter is not None:
                estimate = estimate_tokens(request.content) + self._expected_output
                reservation = await self._limiter.acquire(estimate)
            began = time.perf_counter()
            response = await self._inner.handle_async_request(request)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
            latency_ms = (time.perf_counter() - began) * 1000
        # Let the request waiting for this slot go out before this answer is logged and parsed.
        await asyncio.sleep(0)
        request_id = response.headers.get("x-request-id")
        call = _call(
            article_id,
            digest,
            response.status_code,
            latency_ms=latency_ms,
            content=content,
            request_id=request_id,
        )
        self._ledger.log_call(call)
        if call.completion_tokens is not None:
            # Budget the next requests with what answers really use, not the first guess.
            self._expected_output = round(
                0.9 * self._expected_output + 0.1 * call.completion_tokens
            )
        if self._limiter is not None and reservation is not None:
            used = (call.prompt_tokens or 0) + (call.completion_tokens or 0)
            self._limiter.settle(reservation, used)
            self._limiter.observe(response.status_code, response.headers)
        return rebuilt_response(
            response.status_code, list(response.headers.multi_items()), content, request
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _last_int(pattern: re.Pattern[bytes], content: bytes) -> int | None:
    found = pattern.findall(content)
    return int(found[-1]) if found else None


def _call(
    article_id: str | None,
    digest: str,
    status: int,
    *,
    latency_ms: float,
    content: bytes,
    request_id: str | None,
    from_cache: bool = False,
) -> Call:
    prompt_tokens = completion_tokens = None
    if status == 200:
        # Read from the raw body rather than parsed: the SDK parses it anyway, and the usage
        # keys cannot occur unescaped inside the answer's own JSON-in-a-string.
        prompt_tokens = _last_int(_PROMPT_TOKENS, content)
        completion_tokens = _last_int(_COMPLETION_TOKENS, content)
    return Call(
        article_id=article_id,
        request_hash=digest,
        status=status,
        latency_ms=latency_ms,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        request_id=request_id,
        response=content,
        from_cache=from_cache,
    )
