"""Answers that end at finish_reason "length": which limit stopped each, read from its usage.

Cut by the output cap and a full context window fail the article with the numbers and what to
change; an answer the server stopped early is a transport fault, sent again by the send loop's
retry layer (never re-asked), and its reason is precise when it keeps happening.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from author_cassettes import authored
from conftest import FAULT_ARTICLE
from sitrep.errors import StoppedEarlyError, TransportError, TruncatedOutputError
from sitrep.extract.conversation import Conversation
from sitrep.extract.extractor import Extractor
from sitrep.extract.prompts import TOOL_NAME
from sitrep.extract.request import RequestBuilder
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.model.usage import TokenUsage
from sitrep.run.ledger import Ledger
from sitrep.settings import ModelConfig, RetryPolicy
from sitrep.testing import completions as wire
from sitrep.wire.stops import NEAR_LIMIT, StopKind, length_stop, stopped_early

CAP = 4096
WINDOW = 16_384
WINDOWED = ModelConfig(model="local-model", max_output_tokens=CAP, context_window=WINDOW)
# A model whose context window is not known.
UNWINDOWED = ModelConfig(model="unlisted-model", max_output_tokens=CAP)
ARTICLE = Article.from_file(FAULT_ARTICLE)
CUT = '{"incidents": [{"summary": "Mortar she'
MORTAR = authored("mortar_strike")


def length_body(
    prompt: int | None, completion: int | None, *, reply: int = 1, finish: str = "length"
) -> dict[str, Any]:
    """A forced call cut short, with this usage (None: no usage block at all)."""
    call = wire.tool_call(f"call_{reply}", TOOL_NAME, CUT)
    body = wire.chat_completion(
        completion_id=f"chatcmpl-stop-{reply}",
        model="m",
        created=1_700_000_000,
        answer=wire.message(tool_calls=[call]),
        finish_reason=finish,
        token_usage=wire.usage(prompt or 0, completion or 0),
    )
    if prompt is None:
        del body["usage"]
    return body


def conversation(config: ModelConfig) -> Conversation:
    return Conversation.for_article(ARTICLE, RequestBuilder(config))


# --- which limit: the classification --------------------------------------------------------


def test_completion_tokens_at_the_cap_are_a_cut_by_the_cap() -> None:
    stop = length_stop(TokenUsage(prompt_tokens=900, completion_tokens=CAP), WINDOWED)
    assert stop.kind is StopKind.CAP


def test_near_the_cap_counts_as_the_cap_and_just_below_near_does_not() -> None:
    nearest = math.ceil(CAP * (1 - NEAR_LIMIT))
    at = length_stop(TokenUsage(prompt_tokens=900, completion_tokens=nearest), WINDOWED)
    below = length_stop(TokenUsage(prompt_tokens=900, completion_tokens=nearest - 1), WINDOWED)
    assert (at.kind, below.kind) == (StopKind.CAP, StopKind.EARLY)


def test_prompt_and_completion_at_the_window_are_a_full_window() -> None:
    prompt = WINDOW - 1000
    stop = length_stop(TokenUsage(prompt_tokens=prompt, completion_tokens=1000), WINDOWED)
    assert stop.kind is StopKind.WINDOW


def test_near_the_window_counts_as_the_window_and_just_below_near_does_not() -> None:
    nearest = math.ceil(WINDOW * (1 - NEAR_LIMIT))
    at = length_stop(TokenUsage(prompt_tokens=nearest - 500, completion_tokens=500), WINDOWED)
    below = length_stop(TokenUsage(prompt_tokens=nearest - 501, completion_tokens=500), WINDOWED)
    assert (at.kind, below.kind) == (StopKind.WINDOW, StopKind.EARLY)


def test_far_below_the_cap_with_no_known_window_is_an_early_stop() -> None:
    assert UNWINDOWED.context_tokens is None
    stop = length_stop(TokenUsage(prompt_tokens=100_000, completion_tokens=40), UNWINDOWED)
    assert stop.kind is StopKind.EARLY


def test_no_usage_is_a_stop_whose_limit_is_unknown() -> None:
    assert length_stop(None, WINDOWED).kind is StopKind.UNKNOWN


def test_only_a_length_answer_far_from_both_limits_is_stopped_early() -> None:
    assert stopped_early(length_body(900, 37), WINDOWED) is not None
    assert stopped_early(length_body(900, CAP), WINDOWED) is None
    assert stopped_early(length_body(900, 37, finish="stop"), WINDOWED) is None
    assert stopped_early(length_body(None, None), WINDOWED) is None
    assert stopped_early({"choices": []}, WINDOWED) is None


# --- the reasons the conversation step gives ------------------------------------------------


def test_a_cut_by_the_cap_names_the_tokens_used_and_the_setting_to_raise() -> None:
    talk = conversation(WINDOWED)
    with pytest.raises(TruncatedOutputError) as info:
        talk.receive(length_body(900, CAP))
    message = str(info.value)
    assert "cut off at the output cap: 4,096 of 4,096 output tokens used" in message
    assert "finish_reason 'length'" in message
    assert "raise max_output_tokens" in message
    assert talk.reasks == 0


def test_a_full_window_names_prompt_answer_and_window_and_what_to_send_less_of() -> None:
    talk = conversation(WINDOWED)
    with pytest.raises(TruncatedOutputError) as info:
        talk.receive(length_body(15_000, 1_384))
    message = str(info.value)
    assert "the context window filled" in message
    assert "the prompt's 15,000 tokens and the answer's 1,384 make 16,384" in message
    assert "at the 16,384-token window (finish_reason 'length'" in message
    assert "the output cap of 4,096 not reached" in message
    assert "compact prompt profile" in message
    assert "true context window" in message
    assert not isinstance(info.value, TransportError)


def test_a_window_overrun_says_the_window_sitrep_was_given_is_smaller() -> None:
    with pytest.raises(TruncatedOutputError, match="at the 16,384-token window sitrep was given"):
        conversation(WINDOWED).receive(length_body(16_000, 900))


def test_an_early_stop_that_reaches_the_conversation_is_a_transport_fault_never_reasked() -> None:
    talk = conversation(WINDOWED)
    first = talk.request
    with pytest.raises(StoppedEarlyError) as info:
        talk.receive(length_body(900, 37))
    assert isinstance(info.value, TransportError)
    assert str(info.value) == (
        "the server stopped the answer early: finish_reason 'length' after 37 of 4,096 output "
        "tokens, 937 tokens in all, far from the 16,384-token context window"
    )
    assert (talk.reasks, talk.request) == (0, first)
    assert info.value.usage.completion_tokens == 37
    assert info.value.request_ids == ["chatcmpl-stop-1"]


def test_an_early_stop_with_no_known_window_says_the_window_is_not_known() -> None:
    with pytest.raises(StoppedEarlyError, match=r"40 of 4,096 output tokens, .*window not known"):
        conversation(UNWINDOWED).receive(length_body(1_000, 40))


def test_a_length_answer_without_usage_stays_cut_off_and_says_usage_was_missing() -> None:
    with pytest.raises(TruncatedOutputError) as info:
        conversation(WINDOWED).receive(length_body(None, None))
    message = str(info.value)
    assert "cut off (finish_reason 'length')" in message
    assert "sent no usage" in message
    assert "4,096 tokens" in message


def test_charged_answers_count_in_the_records_usage_and_request_ids() -> None:
    talk = conversation(WINDOWED)
    talk.charge(TokenUsage(prompt_tokens=900, completion_tokens=37, total_tokens=937), ["req_0"])
    request = json.loads(json.dumps(talk.request))
    answer = MORTAR(httpx2.Request("POST", "http://x/v1", json=request), "ok").json()
    result = talk.receive(answer, request_id="req_1")
    assert isinstance(result, Extraction)
    assert result.provenance.request_ids == ["req_0", "req_1"]
    assert result.provenance.usage.prompt_tokens == 900 + answer["usage"]["prompt_tokens"]
    assert result.provenance.usage.completion_tokens == 37 + answer["usage"]["completion_tokens"]


# --- the send loop sends an early-stopped request again --------------------------------------


class Endpoint:
    """Answers each request with the next scripted body; keeps every request body it got."""

    def __init__(self, *answers: dict[str, Any] | str) -> None:
        self.answers = list(answers)
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(request.content)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        number = len(self.bodies)
        if answer == "mortar":
            return MORTAR(request, f"ok-{number}")
        assert isinstance(answer, dict)
        return httpx2.Response(200, json=answer, headers={"x-request-id": f"req_stop_{number}"})


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(tmp_path)
    yield opened
    opened.close()


POLICY = RetryPolicy(max_attempts=3, jitter=0.0)
LOCAL = ModelConfig(
    model="local-model",
    base_url="http://127.0.0.1:8080/v1",
    max_output_tokens=CAP,
    context_window=WINDOW,
    retry=POLICY,
)


def extract(
    endpoint: Endpoint, ledger: Ledger, *, run_async: bool, cache: bool = False
) -> Extraction:
    if run_async:
        made = Extractor(
            LOCAL,
            api_key="k",
            async_http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(endpoint)),
            call_log=ledger,
            cache=ledger if cache else None,
        )

        async def main() -> Extraction:
            try:
                return await made.aextract(ARTICLE)
            finally:
                await made.aclose()

        return asyncio.run(main())
    made = Extractor(
        LOCAL,
        api_key="k",
        http_client=httpx2.Client(transport=httpx2.MockTransport(endpoint)),
        call_log=ledger,
        cache=ledger if cache else None,
    )
    try:
        return made.extract(ARTICLE)
    finally:
        made.close()


SYNC_AND_ASYNC = pytest.mark.parametrize("run_async", [False, True], ids=["sync", "async"])


@SYNC_AND_ASYNC
def test_an_early_stop_is_sent_again_after_a_backoff_and_the_next_answer_is_used(
    ledger: Ledger, no_sleep: list[float], run_async: bool
) -> None:
    endpoint = Endpoint(length_body(900, 37), "mortar")
    result = extract(endpoint, ledger, run_async=run_async)
    assert len(result.incidents) == 1
    assert result.provenance.reasks == 0
    assert len(endpoint.bodies) == 2
    assert endpoint.bodies[0] == endpoint.bodies[1]  # the same request, not a re-ask
    assert no_sleep == [POLICY.initial_wait]  # the retry layer's backoff, once
    paid, used = ledger.calls_for(ARTICLE.id)
    assert (paid.status, used.status) == (200, 200)
    assert paid.request_hash == used.request_hash
    assert paid.outcome is not None
    assert paid.outcome.startswith("the server stopped the answer early: ")
    assert "after 37 of 4,096 output tokens" in paid.outcome
    assert used.outcome is None
    # The stopped answer's tokens were paid for: they count in the records' usage.
    assert used.prompt_tokens is not None
    assert result.provenance.usage.prompt_tokens == 900 + used.prompt_tokens
    assert result.provenance.request_ids == ["req_stop_1", "req_authored_ok-2"]


@SYNC_AND_ASYNC
def test_an_early_stop_every_time_gives_up_with_the_count_the_figures_and_what_to_do(
    ledger: Ledger, no_sleep: list[float], run_async: bool
) -> None:
    endpoint = Endpoint(length_body(900, 37))
    with pytest.raises(StoppedEarlyError) as info:
        extract(endpoint, ledger, run_async=run_async)
    message = str(info.value)
    assert message.startswith("the server stopped the answer early 3 times, and the retry policy")
    assert (
        "the last: finish_reason 'length' after 37 of 4,096 output tokens, 937 tokens in all, "
        "far from the 16,384-token context window"
    ) in message
    assert "context size set on the server" in message
    assert len(endpoint.bodies) == POLICY.max_attempts
    assert len(set(endpoint.bodies)) == 1
    assert len(no_sleep) == POLICY.max_attempts - 1
    assert info.value.usage.completion_tokens == 3 * 37
    assert info.value.request_ids == ["req_stop_1", "req_stop_2", "req_stop_3"]
    calls = ledger.calls_for(ARTICLE.id)
    assert len(calls) == 3
    assert all(c.outcome and "stopped the answer early" in c.outcome for c in calls)


@SYNC_AND_ASYNC
def test_a_cut_by_the_cap_is_not_sent_again(
    ledger: Ledger, no_sleep: list[float], run_async: bool
) -> None:
    endpoint = Endpoint(length_body(900, CAP), "mortar")
    with pytest.raises(TruncatedOutputError, match="output cap"):
        extract(endpoint, ledger, run_async=run_async)
    assert len(endpoint.bodies) == 1
    assert no_sleep == []
    (call,) = ledger.calls_for(ARTICLE.id)
    assert call.outcome is None  # a usable answer as far as the wire goes


@SYNC_AND_ASYNC
def test_a_full_window_is_not_sent_again(
    ledger: Ledger, no_sleep: list[float], run_async: bool
) -> None:
    endpoint = Endpoint(length_body(15_000, 1_384), "mortar")
    with pytest.raises(TruncatedOutputError, match="the context window filled"):
        extract(endpoint, ledger, run_async=run_async)
    assert len(endpoint.bodies) == 1
    assert no_sleep == []


def test_an_answer_stopped_early_is_never_served_from_the_cache(
    ledger: Ledger, no_sleep: list[float]
) -> None:
    with pytest.raises(StoppedEarlyError):
        extract(Endpoint(length_body(900, 37)), ledger, run_async=False, cache=True)
    (digest,) = {c.request_hash for c in ledger.calls_for(ARTICLE.id)}
    assert ledger.cached_response(digest) is None
    again = Endpoint("mortar")
    result = extract(again, ledger, run_async=False, cache=True)
    assert len(again.bodies) == 1  # asked the endpoint, not the cache
    assert len(result.incidents) == 1
    assert ledger.cached_response(digest) is not None  # the usable answer now is


def test_transport_faults_after_an_early_stop_still_charge_its_tokens(
    ledger: Ledger, no_sleep: list[float]
) -> None:
    class Faulty(Endpoint):
        def __call__(self, request: httpx2.Request) -> httpx2.Response:
            if self.bodies:
                self.bodies.append(request.content)
                return httpx2.Response(503, json={"error": {"message": "overloaded"}})
            return super().__call__(request)

    with pytest.raises(TransportError, match="HTTP 503") as info:
        extract(Faulty(length_body(900, 37)), ledger, run_async=False)
    assert not isinstance(info.value, StoppedEarlyError)
    assert info.value.usage.completion_tokens == 37
    assert info.value.request_ids == ["req_stop_1"]


def test_a_recorded_early_stop_is_replayed_then_the_answer_that_followed_it(
    cassette: Callable[[str], AbstractContextManager[None]],
    make_extractor: Callable[..., Extractor],
    fault_article: Article,
    no_sleep: list[float],
) -> None:
    with cassette("faults/stopped_early_then_ok"):
        result = make_extractor().extract(fault_article)
    assert len(result.incidents) == 1
    assert result.provenance.reasks == 0
    assert len(result.provenance.request_ids) == 2
    assert len(no_sleep) == 1
