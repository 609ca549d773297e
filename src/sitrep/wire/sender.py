"""The send loop: one chat completion request in, its answer out, through transport faults.

    request body → bytes, once → answered before? (`ResponseCache`) → [`Pacer`: a place on the
    wire] → POST → the call logged (`CallLog`) → the answer's JSON body, or a transport fault
    retried (`sitrep.wire.faults`) until it is cured or becomes a `SitrepError`

Every attempt is logged, answered or not: one that got no HTTP answer (a timeout, a refused or
reset connection) with status `NO_STATUS` and what became of it (`Call.outcome`), its latency
until the fault. An answer the server stopped early (`sitrep.wire.stops`) is logged as it came,
with that outcome, and is a transport fault: the same request is sent again within the retry
policy, and the tokens it used are handed on with the answer that follows (`Reply.discarded`).

Requests are posted as they are built: already plain JSON, serialized exactly as the SDK would
(`sitrep.wire.calls.encode_request`), so that request hashes and recorded cassettes match
whichever posted them.
`chat.completions.create()` would first walk every request against the SDK's parameter types,
which changes nothing here and cost 1.6 ms of CPU a request on the benchmark machine
(BENCHMARKS.md); the path and the auth are what it would use. The answer comes back as the
HTTP response, so that its raw bytes can be logged and its JSON parsed once.

Sync and async share everything but the I/O: `send` and `asend` differ where one waits and the
other awaits, and in the pacer, which only the async path takes (the sync path sends one
request at a time, so there is nothing to bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from openai import RequestOptions

from sitrep.errors import StoppedEarlyError, TransportError
from sitrep.model.usage import TokenUsage, usage_from_body
from sitrep.settings import ModelConfig
from sitrep.wire.calls import (
    NO_STATUS,
    Call,
    CallLog,
    CallTag,
    ResponseCache,
    encode_request,
    request_hash,
)
from sitrep.wire.faults import async_retrying, sync_retrying, translate, unanswered_outcome
from sitrep.wire.pacing import Pacer
from sitrep.wire.ratelimit import Reservation
from sitrep.wire.stops import LengthStop, stopped_early

_CHAT_COMPLETIONS = "/chat/completions"
_POST_OPTIONS: RequestOptions = {"security": {"bearer_auth": True}}
_METHOD = "POST"


def chat_completions_path(base_url: str) -> str:
    """The path the SDK posts chat completions to under `base_url`, which is part of a
    request's hash: the same for a request sent here and one sent in a batch file."""
    return httpx2.URL(base_url).path.rstrip("/") + _CHAT_COMPLETIONS


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer as received: its JSON body and the endpoint's id for the request.

    `discarded` is what the answers received before it for the same request cost, and
    `discarded_ids` their ids: answers the server stopped early, after which the request was
    sent again. They were paid for, so a caller counts them (`Conversation.charge`).
    """

    body: dict[str, Any]
    request_id: str | None
    discarded: TokenUsage = field(default_factory=TokenUsage)
    discarded_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class _Discarded:
    """The answers of one send that came back stopped early: how many, their cost and ids."""

    count: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
    request_ids: list[str] = field(default_factory=list)
    last: str = ""  # the latest one's figures (`LengthStop.figures`)

    def add(self, stop: LengthStop, request_id: str | None) -> None:
        self.count += 1
        self.usage += stop.usage or TokenUsage()
        self.last = stop.figures()
        if request_id:
            self.request_ids.append(request_id)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    content: bytes
    digest: str
    tag: CallTag
    discarded: _Discarded = field(default_factory=_Discarded)


class ChatSender:
    """Sends chat completion requests for one model configuration. Reuse it: it holds the clients.

    `call_log` keeps every answer, error statuses included; `cache` answers a request already
    paid for; `pacer` bounds the requests on the wire (async only: the sync path sends one at a
    time anyway).
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        api_key: str,
        http_client: httpx2.Client | None = None,
        async_http_client: httpx2.AsyncClient | None = None,
        call_log: CallLog | None = None,
        cache: ResponseCache | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.config = config
        self._log = call_log
        self._cache = cache
        self._pacer = pacer
        # max_retries=0: transport retries belong to sitrep.wire.faults alone.
        client_options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": config.base_url,
            "timeout": config.timeout,
            "max_retries": 0,
        }
        self._client = openai.OpenAI(**client_options, http_client=http_client)
        self._async_client = openai.AsyncOpenAI(**client_options, http_client=async_http_client)
        self._resend = config.resends_timed_out
        self._path = chat_completions_path(config.base_url)

    def send(self, request: Mapping[str, Any], tag: CallTag, *, fresh: bool = False) -> Reply:
        """Send `request`, blocking; `fresh` asks the endpoint even if the cache has an answer."""
        outgoing = self._outgoing(request, tag)
        if not fresh and (cached := self._cached(outgoing)) is not None:
            return cached
        try:
            return sync_retrying(self.config.retry, resend_timed_out=self._resend)(
                self._post, outgoing
            )
        except openai.OpenAIError as exc:
            raise self._translate(exc, outgoing) from exc
        except StoppedEarlyError as exc:
            raise _gave_up(outgoing) from exc

    async def asend(
        self, request: Mapping[str, Any], tag: CallTag, *, fresh: bool = False
    ) -> Reply:
        """Send `request` without blocking the event loop."""
        outgoing = self._outgoing(request, tag)
        if not fresh and (cached := self._cached(outgoing)) is not None:
            return cached
        try:
            return await async_retrying(self.config.retry, resend_timed_out=self._resend)(
                self._apost, outgoing
            )
        except openai.OpenAIError as exc:
            raise self._translate(exc, outgoing) from exc
        except StoppedEarlyError as exc:
            raise _gave_up(outgoing) from exc

    def _translate(self, exc: openai.OpenAIError, outgoing: _Outgoing) -> Exception:
        discarded = outgoing.discarded
        return translate(
            exc,
            usage=discarded.usage,
            request_ids=discarded.request_ids,
            timeout=self.config.timeout,
            resend_timed_out=self._resend,
        )

    def close(self) -> None:
        """Close the sync client (the async one needs `aclose`)."""
        self._client.close()

    async def aclose(self) -> None:
        """Close both clients."""
        self._client.close()
        await self._async_client.close()

    def _post(self, outgoing: _Outgoing) -> Reply:
        """One attempt."""
        began = time.perf_counter()
        try:
            response = self._client.post(
                _CHAT_COMPLETIONS,
                cast_to=httpx2.Response,
                content=outgoing.content,
                options=_POST_OPTIONS,
            )
        except openai.APIStatusError as exc:
            self._record(outgoing, exc.response, _since(began))
            raise
        except openai.APIConnectionError as exc:  # no answer: timeouts are connection errors too
            self._unanswered(outgoing, exc, _since(began))
            raise
        return self._reply(outgoing, response, _since(began))

    async def _apost(self, outgoing: _Outgoing) -> Reply:
        """One attempt, holding a place on the wire for the exchange alone."""
        fault: openai.APIStatusError | None = None
        passage = self._pacer.passage(outgoing.content) if self._pacer else contextlib.nullcontext()
        async with passage as reservation:
            began = time.perf_counter()
            try:
                response = await self._async_client.post(
                    _CHAT_COMPLETIONS,
                    cast_to=httpx2.Response,
                    content=outgoing.content,
                    options=_POST_OPTIONS,
                )
            except openai.APIStatusError as exc:
                fault, response = exc, exc.response
            except openai.APIConnectionError as exc:  # timeouts included
                self._unanswered(outgoing, exc, _since(began))
                raise
            except asyncio.CancelledError:  # the request went out; its answer is abandoned
                self._keep(outgoing, NO_STATUS, latency_ms=_since(began), outcome="cancelled")
                raise
            latency_ms = _since(began)
        if self._pacer is not None:
            # Let the request waiting for this place go out before this answer is handled.
            await asyncio.sleep(0)
        if fault is not None:
            self._record(outgoing, response, latency_ms, reservation)
            raise fault
        return self._reply(outgoing, response, latency_ms, reservation)

    def _outgoing(self, request: Mapping[str, Any], tag: CallTag) -> _Outgoing:
        content = encode_request(request)
        return _Outgoing(content, request_hash(_METHOD, self._path, content), tag)

    def _cached(self, outgoing: _Outgoing) -> Reply | None:
        if self._cache is None:
            return None
        content = self._cache.cached_response(outgoing.digest)
        if content is None:
            return None
        body = _json_object(content)
        if body is None or stopped_early(body, self.config) is not None:
            return None  # not an answer that could be used: ask the endpoint
        self._keep(
            outgoing,
            200,
            latency_ms=0.0,
            usage=usage_from_body(body),
            content=content,
            from_cache=True,
        )
        return Reply(body, request_id=None)

    def _reply(
        self,
        outgoing: _Outgoing,
        response: httpx2.Response,
        latency_ms: float,
        reservation: Reservation | None = None,
    ) -> Reply:
        body = self._record(outgoing, response, latency_ms, reservation)
        request_id = response.headers.get("x-request-id")
        if body is None:
            raise TransportError(
                f"the endpoint answered {response.status_code} with a body that is not a JSON "
                f"object: {response.content[:200]!r}",
                **_spent(outgoing.discarded),
            )
        if (stop := stopped_early(body, self.config)) is not None:
            outgoing.discarded.add(stop, request_id)
            raise StoppedEarlyError(stop.reason(), **_spent(outgoing.discarded))
        discarded = outgoing.discarded
        return Reply(body, request_id, discarded.usage, tuple(discarded.request_ids))

    def _record(
        self,
        outgoing: _Outgoing,
        response: httpx2.Response,
        latency_ms: float,
        reservation: Reservation | None = None,
    ) -> dict[str, Any] | None:
        """Tell the pacer and log the answer; return its JSON body if it is a success."""
        status, content = response.status_code, response.content
        body = _json_object(content) if response.is_success else None
        usage = usage_from_body(body) if body is not None else None
        if self._pacer is not None and reservation is not None:
            self._pacer.settle(reservation, status, response.headers, usage)
        outcome = None  # what made an answer with a success status unusable, if anything
        if response.is_success and body is None:
            outcome = "the body is not a JSON object"
        elif body is not None and (stop := stopped_early(body, self.config)) is not None:
            outcome = stop.reason()
        self._keep(
            outgoing,
            status,
            latency_ms=latency_ms,
            usage=usage,
            request_id=response.headers.get("x-request-id"),
            content=content,
            outcome=outcome,
        )
        return body

    def _unanswered(
        self, outgoing: _Outgoing, exc: openai.APIConnectionError, latency_ms: float
    ) -> None:
        """Log an attempt that got no HTTP answer, with what became of it."""
        outcome = unanswered_outcome(exc, timeout=self.config.timeout)
        self._keep(outgoing, NO_STATUS, latency_ms=latency_ms, outcome=outcome)

    def _keep(
        self,
        outgoing: _Outgoing,
        status: int,
        *,
        latency_ms: float,
        usage: TokenUsage | None = None,
        request_id: str | None = None,
        content: bytes | None = None,
        from_cache: bool = False,
        outcome: str | None = None,
    ) -> None:
        if self._log is None:
            return
        tag = outgoing.tag
        self._log.log_call(
            Call(
                article_id=tag.article_id,
                request_hash=outgoing.digest,
                status=status,
                latency_ms=latency_ms,
                prompt_tokens=usage.prompt_tokens if usage is not None else None,
                completion_tokens=usage.completion_tokens if usage is not None else None,
                request_id=request_id,
                response=content,
                from_cache=from_cache,
                model=self.config.model,
                prompt_version=tag.prompt_version,
                schema_version=tag.schema_version,
                outcome=outcome,
                cached_tokens=usage.cached_tokens if usage is not None else None,
            )
        )


def _spent(discarded: _Discarded) -> dict[str, Any]:
    """What the send's discarded answers cost, as the keyword arguments of an error."""
    return {"usage": discarded.usage, "request_ids": list(discarded.request_ids)}


def _gave_up(outgoing: _Outgoing) -> StoppedEarlyError:
    """The error once the retry policy is spent and the last answer was stopped early."""
    discarded = outgoing.discarded
    times = "once" if discarded.count == 1 else f"{discarded.count} times"
    return StoppedEarlyError(
        f"the server stopped the answer early {times}, and the retry policy allows no more "
        f"attempts; the last: {discarded.last}. A server that stops at a limit of its own (an "
        "output cap or a context size set on the server, a proxy's cap) does so every time: "
        "raise it there, or give sitrep its true context window (context_window)",
        **_spent(discarded),
    )


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _since(began: float) -> float:
    return (time.perf_counter() - began) * 1000
