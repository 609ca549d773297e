"""The conversation step on its own: answer bodies in, records or re-asks out, no sender.

This is the seam any sender drives (the interactive one, a batch-file one): it takes a chat
completion's JSON body however it arrived and says what to do next.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import FAULT_ARTICLE, ROOT
from sitrep.errors import InvalidOutputError, RefusalError, TransportError
from sitrep.extract.conversation import Conversation, Reask
from sitrep.extract.prompts import TOOL_NAME
from sitrep.extract.request import RequestBuilder
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.settings import ModelConfig
from sitrep.testing import completions as wire

CONFIG = ModelConfig(model="gpt-4.1-mini", reask_budget=1)
MORTAR: dict[str, Any] = json.loads(
    (ROOT / "cassettes" / "authored" / "mortar_strike.json").read_text("utf-8")
)


def body(arguments: dict[str, Any] | str, *, refusal: str | None = None) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    call = wire.tool_call("call_1", TOOL_NAME, text)
    message = wire.message(refusal=refusal) if refusal else wire.message(tool_calls=[call])
    return wire.chat_completion(
        completion_id="chatcmpl-test",
        model="gpt-4.1-mini",
        created=0,
        answer=message,
        finish_reason="stop",
        token_usage=wire.usage(100, 20),
    )


def fabricated() -> dict[str, Any]:
    draft: dict[str, Any] = json.loads(json.dumps(MORTAR))
    draft["incidents"][0]["evidence"][0] = "Mortar shells killed a general in Baghdad"
    return draft


@pytest.fixture
def start() -> Conversation:
    article = Article.from_file(FAULT_ARTICLE)
    requests = RequestBuilder(CONFIG)
    return Conversation(
        article, requests.build(article), config=CONFIG, prompt_version=requests.prompts.version
    )


def test_first_request_is_the_builders_for_the_article(start: Conversation) -> None:
    assert start.request == RequestBuilder(CONFIG).build(start.article)


def test_a_valid_answer_becomes_records_with_its_request_id_and_usage(start: Conversation) -> None:
    step = start.receive(body(MORTAR), request_id="req_1")
    assert isinstance(step, Extraction)
    assert len(step.incidents) == 1
    assert step.provenance.request_ids == ["req_1"]
    assert (step.provenance.usage.prompt_tokens, step.provenance.usage.completion_tokens) == (
        100,
        20,
    )


def test_without_a_request_id_the_completion_id_stands_for_it(start: Conversation) -> None:
    step = start.receive(body(MORTAR))
    assert isinstance(step, Extraction)
    assert step.provenance.request_ids == ["chatcmpl-test"]


def test_an_invalid_answer_becomes_the_next_request_with_the_problem(start: Conversation) -> None:
    first = start.request
    step = start.receive(body(fabricated()), request_id="req_1")
    assert isinstance(step, Reask)
    assert step.request is start.request
    assert len(step.request["messages"]) > len(first["messages"])
    assert any("not in the article" in p for p in step.problems)
    done = start.receive(body(MORTAR), request_id="req_2")
    assert isinstance(done, Extraction)
    assert done.provenance.reasks == 1
    assert done.provenance.request_ids == ["req_1", "req_2"]
    assert done.provenance.usage.prompt_tokens == 200


def test_past_the_reask_budget_the_error_carries_every_problem_and_what_was_spent(
    start: Conversation,
) -> None:
    assert isinstance(start.receive(body(fabricated()), request_id="req_1"), Reask)
    with pytest.raises(InvalidOutputError) as failed:
        start.receive(body(fabricated()), request_id="req_2")
    assert any("not in the article" in p for p in failed.value.problems)
    assert failed.value.request_ids == ["req_1", "req_2"]
    assert failed.value.usage.total_tokens == 240


def test_a_refusal_is_not_reasked(start: Conversation) -> None:
    with pytest.raises(RefusalError, match="cannot help"):
        start.receive(body("", refusal="I cannot help with that."), request_id="req_1")
    assert start.reasks == 0


@pytest.mark.parametrize(
    "answer",
    [{}, {"id": "x", "choices": []}, {"error": {"message": "overloaded"}}, {"choices": [None]}],
)
def test_a_body_with_no_choice_to_read_is_the_endpoints_fault_and_not_reasked(
    start: Conversation, answer: dict[str, Any]
) -> None:
    with pytest.raises(TransportError, match="not a chat completion"):
        start.receive(answer, request_id="req_1")
    assert start.reasks == 0
    assert start.request_ids == ["req_1"]


def test_for_article_keeps_to_the_builders_configuration() -> None:
    article = Article.from_file(FAULT_ARTICLE)
    requests = RequestBuilder(CONFIG)
    conversation = Conversation.for_article(article, requests)
    assert conversation.request == requests.build(article)
    step = conversation.receive(body(MORTAR), request_id="req_1")
    assert isinstance(step, Extraction)
    assert step.provenance.prompt_version == requests.prompts.version
