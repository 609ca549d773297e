"""What a server other than OpenAI's needs, as settings: each default follows the endpoint.

The server here is an `httpx2.MockTransport` that answers the way llama.cpp's OpenAI-compatible
server was seen to answer (its bodies are quoted in the tests that use them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sitrep.errors import (
    BadRequestError,
    ConfigurationError,
    ContextOverflowError,
    InvalidOutputError,
    TransportError,
    TruncatedOutputError,
)
from sitrep.extract.conversation import Conversation, Reask
from sitrep.extract.extractor import Extractor
from sitrep.extract.prompts import TOOL_NAME, default_prompt_dir, load_prompts
from sitrep.extract.request import RequestBuilder, draft_schema, estimate_request_tokens
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.settings import (
    ModelConfig,
    OutputCapField,
    OutputMode,
    PromptProfile,
    RetryPolicy,
)
from sitrep.testing import completions as wire

ROOT = Path(__file__).resolve().parent.parent
LOCAL = "http://127.0.0.1:8080/v1"
EMPTY = json.dumps({"incidents": [], "statistics": []})
ARTICLE = Article.from_text("Two rockets hit a base on Monday.", source="test")


def _body(message: dict[str, Any], *, finish: str = "stop", completion: int = 20) -> dict[str, Any]:
    return wire.chat_completion(
        completion_id="chatcmpl-test-1",
        model="m",
        created=1_700_000_000,
        answer=message,
        finish_reason=finish,
        token_usage=wire.usage(900, completion),
    )


# --- the output cap's field -------------------------------------------------------------------


def test_the_output_cap_goes_as_max_completion_tokens_to_openai_and_max_tokens_elsewhere() -> None:
    openai_body = RequestBuilder(ModelConfig(model="m", max_output_tokens=300)).static
    local_body = RequestBuilder(
        ModelConfig(model="m", base_url=LOCAL, max_output_tokens=300)
    ).static
    assert openai_body["max_completion_tokens"] == 300
    assert "max_tokens" not in openai_body
    assert local_body["max_tokens"] == 300
    assert "max_completion_tokens" not in local_body


def test_the_output_cap_field_can_be_chosen_whatever_the_endpoint() -> None:
    config = ModelConfig(
        model="m", base_url=LOCAL, output_cap_field=OutputCapField.MAX_COMPLETION_TOKENS
    )
    assert RequestBuilder(config).static["max_completion_tokens"] == config.max_output_tokens


# --- json_object mode ---------------------------------------------------------------------


def test_json_object_mode_asks_for_json_and_puts_the_schema_in_the_system_message() -> None:
    builder = RequestBuilder(ModelConfig(model="m", base_url=LOCAL, mode=OutputMode.JSON_OBJECT))
    request = builder.build(ARTICLE)
    assert request["response_format"] == {"type": "json_object"}
    assert "tools" not in request
    assert "tool_choice" not in request
    system = request["messages"][0]["content"]
    schema = json.dumps(draft_schema()["parameters"], ensure_ascii=False, separators=(",", ":"))
    assert system.startswith(builder.prompts.system)
    assert system.endswith(schema)


def test_json_object_answer_is_parsed_and_checked_like_any_other() -> None:
    config = ModelConfig(model="m", base_url=LOCAL, mode=OutputMode.JSON_OBJECT)
    conversation = Conversation.for_article(ARTICLE, RequestBuilder(config))
    result = conversation.receive(_body(wire.message(content=EMPTY)))
    assert isinstance(result, Extraction)
    assert (result.incidents, result.statistics) == ([], [])


def test_json_object_answer_that_is_not_json_is_re_asked_in_a_user_message() -> None:
    config = ModelConfig(model="m", base_url=LOCAL, mode=OutputMode.JSON_OBJECT)
    conversation = Conversation.for_article(ARTICLE, RequestBuilder(config))
    result = conversation.receive(_body(wire.message(content="Sure! Here are the incidents.")))
    assert isinstance(result, Reask)
    added = result.request["messages"][2:]
    assert [m["role"] for m in added] == ["assistant", "user"]
    assert added[0]["content"] == "Sure! Here are the incidents."


def test_a_prompt_set_without_an_answer_format_cannot_serve_json_object_mode(
    tmp_path: Path,
) -> None:
    source = default_prompt_dir()
    for name in ("system.j2", "user.j2"):
        (tmp_path / name).write_text((source / name).read_text("utf-8"), "utf-8")
    prompts = load_prompts(tmp_path)
    with pytest.raises(ConfigurationError, match=r"answer_format\.j2"):
        RequestBuilder(ModelConfig(model="m", mode=OutputMode.JSON_OBJECT), prompts)


# --- the compact prompt profile -------------------------------------------------------------


def test_compact_profile_sends_a_shorter_prompt_with_no_example_and_its_own_version() -> None:
    full = RequestBuilder(ModelConfig(model="m"))
    compact = RequestBuilder(ModelConfig(model="m", prompt_profile=PromptProfile.COMPACT))
    assert compact.prompts.examples == ()
    assert compact.prompts.version != full.prompts.version
    assert TOOL_NAME in compact.system
    full_tokens = estimate_request_tokens(full.build(ARTICLE))
    assert estimate_request_tokens(compact.build(ARTICLE)) < 0.6 * full_tokens


def test_compact_profile_is_shipped_beside_the_full_one() -> None:
    assert default_prompt_dir(PromptProfile.COMPACT).name == "compact"
    assert (default_prompt_dir(PromptProfile.COMPACT) / "answer_format.j2").is_file()


# --- the context window -----------------------------------------------------------------------


def test_known_models_have_their_context_window_and_others_none_unless_given() -> None:
    assert ModelConfig(model="gpt-4.1-mini-2025-04-14").context_tokens == 1_047_576
    assert ModelConfig(model="gpt-4o-mini").context_tokens == 128_000
    assert ModelConfig(model="smollm2-135m").context_tokens is None
    assert ModelConfig(model="smollm2-135m", context_window=8192).context_tokens == 8192


def test_a_window_with_no_room_beside_the_output_cap_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="leaves no room"):
        ModelConfig(model="m", context_window=4096, max_output_tokens=4096)


def test_a_prompt_too_long_for_the_window_fails_before_any_article() -> None:
    config = ModelConfig(model="m", context_window=4000, max_output_tokens=500)
    with pytest.raises(ConfigurationError, match=r"context window of 4,000 tokens.*compact"):
        RequestBuilder(config)


def test_an_article_too_long_for_the_window_fails_with_the_numbers_and_is_not_sent() -> None:
    config = ModelConfig(
        model="m", prompt_profile=PromptProfile.COMPACT, context_window=5000, max_output_tokens=500
    )
    builder = RequestBuilder(config)
    builder.build(ARTICLE)  # a short article fits
    long_article = Article.from_text("A rocket hit a base. " * 400, source="test")
    with pytest.raises(ContextOverflowError, match=r"about [\d,]+ prompt tokens.*500 output"):
        builder.build(long_article)


def test_a_re_ask_that_cannot_fit_the_window_is_not_sent_and_says_why() -> None:
    config = ModelConfig(
        model="m",
        base_url=LOCAL,
        mode=OutputMode.JSON_OBJECT,
        prompt_profile=PromptProfile.COMPACT,
        context_window=5000,
        max_output_tokens=500,
    )
    conversation = Conversation.for_article(ARTICLE, RequestBuilder(config))
    rambling = "not json " * 1000  # an invalid answer long enough to overflow the re-ask
    with pytest.raises(InvalidOutputError, match=r"re-ask cannot be sent.*context window") as info:
        conversation.receive(_body(wire.message(content=rambling), completion=400))
    assert info.value.problems
    assert conversation.reasks == 0


# --- truncation seen in the usage -------------------------------------------------------------


def test_an_answer_that_used_every_allowed_token_is_truncated_whatever_its_finish_reason() -> None:
    # llama.cpp's server reports a cut-off forced call as finish_reason "tool_calls".
    config = ModelConfig(model="m", base_url=LOCAL, max_output_tokens=256)
    conversation = Conversation.for_article(ARTICLE, RequestBuilder(config))
    cut = wire.message(tool_calls=[wire.tool_call("call_1", TOOL_NAME, '{"incidents": [{"sum')])
    with pytest.raises(TruncatedOutputError, match=r"all 256 output tokens.*'tool_calls'"):
        conversation.receive(_body(cut, finish="tool_calls", completion=256))


def test_an_answer_under_the_cap_is_not_taken_for_truncated() -> None:
    config = ModelConfig(model="m", base_url=LOCAL, max_output_tokens=256)
    conversation = Conversation.for_article(ARTICLE, RequestBuilder(config))
    call = wire.message(tool_calls=[wire.tool_call("call_1", TOOL_NAME, EMPTY)])
    assert isinstance(
        conversation.receive(_body(call, finish="tool_calls", completion=255)), Extraction
    )


# --- faults a local server produces -----------------------------------------------------------

Handler = Callable[[httpx2.Request], httpx2.Response]


class Counting:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.handler(request)


def _extract(config: ModelConfig, handler: Counting) -> Extraction:
    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    extractor = Extractor(config, api_key="test-key-never-sent", http_client=client)
    try:
        return extractor.extract(ARTICLE)
    finally:
        extractor.close()


def _read_timeout(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("timed out", request=request)


def test_a_request_that_timed_out_is_not_sent_again_to_a_local_server(
    no_sleep: list[float],
) -> None:
    server = Counting(_read_timeout)
    with pytest.raises(TransportError, match=r"within 600 s.*not sent again.*--timeout"):
        _extract(ModelConfig(model="m", base_url=LOCAL, request_timeout=600), server)
    assert len(server.requests) == 1


def test_a_request_that_timed_out_is_sent_again_to_openai(no_sleep: list[float]) -> None:
    server = Counting(_read_timeout)
    config = ModelConfig(model="m", retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransportError, match="gave up after transport faults"):
        _extract(config, server)
    assert len(server.requests) == 3


def test_resending_timed_out_requests_can_be_chosen_for_any_server(no_sleep: list[float]) -> None:
    server = Counting(_read_timeout)
    retry = RetryPolicy(max_attempts=2, resend_timed_out=True)
    with pytest.raises(TransportError):
        _extract(ModelConfig(model="m", base_url=LOCAL, retry=retry), server)
    assert len(server.requests) == 2


def test_a_connection_that_never_opened_is_tried_again_even_locally(no_sleep: list[float]) -> None:
    def refused_then_ok(request: httpx2.Request) -> httpx2.Response:
        if len(server.requests) == 1:
            raise httpx2.ConnectTimeout("connect timed out", request=request)
        call = wire.message(tool_calls=[wire.tool_call("call_1", TOOL_NAME, EMPTY)])
        return httpx2.Response(200, json=_body(call))

    server = Counting(refused_then_ok)
    result = _extract(ModelConfig(model="m", base_url=LOCAL), server)
    assert result.incidents == []
    assert len(server.requests) == 2


# The body llama-cpp-python's server (0.3) sends for `response_format: json_schema`.
_REFUSED_MODE = {
    "error": {
        "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
        "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
        "'input': 'json_schema'}",
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
}


def test_a_500_saying_the_request_is_invalid_fails_at_once_with_the_servers_reason(
    no_sleep: list[float],
) -> None:
    server = Counting(lambda request: httpx2.Response(500, json=_REFUSED_MODE))
    config = ModelConfig(model="m", base_url=LOCAL, mode=OutputMode.JSON_SCHEMA)
    with pytest.raises(
        BadRequestError,
        match=r"(?s)rejected the request \(500\).*'text' or 'json_object'.*try another --mode",
    ):
        _extract(config, server)
    assert len(server.requests) == 1
    assert no_sleep == []


def test_a_plain_500_is_still_retried(no_sleep: list[float]) -> None:
    overloaded = {"error": {"message": "The server is overloaded.", "type": "server_error"}}
    server = Counting(lambda request: httpx2.Response(500, json=overloaded))
    config = ModelConfig(model="m", base_url=LOCAL, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransportError):
        _extract(config, server)
    assert len(server.requests) == 3


def test_the_timeout_is_two_minutes_for_openai_and_ten_for_other_servers_unless_given() -> None:
    assert ModelConfig(model="m").timeout == 120.0
    assert ModelConfig(model="m", base_url=LOCAL).timeout == 600.0
    assert ModelConfig(model="m", base_url=LOCAL, request_timeout=30).timeout == 30.0
    with pytest.raises(ConfigurationError, match="request_timeout must be positive"):
        ModelConfig(model="m", request_timeout=0)


def test_each_request_is_sent_with_the_timeout_the_endpoint_gets(no_sleep: list[float]) -> None:
    call = wire.message(tool_calls=[wire.tool_call("call_1", TOOL_NAME, EMPTY)])
    server = Counting(lambda request: httpx2.Response(200, json=_body(call)))
    _extract(ModelConfig(model="m", base_url=LOCAL), server)
    (sent,) = server.requests
    assert sent.extensions["timeout"]["read"] == 600.0


def test_an_articles_request_fits_exactly_when_its_estimate_and_the_cap_fill_the_window() -> None:
    def builder(window: int | None) -> RequestBuilder:
        config = ModelConfig(
            model="m",
            prompt_profile=PromptProfile.COMPACT,
            max_output_tokens=500,
            context_window=window,
        )
        return RequestBuilder(config)

    needed = estimate_request_tokens(builder(None).build(ARTICLE))
    builder(needed + 500).build(ARTICLE)
    with pytest.raises(ContextOverflowError):
        builder(needed + 499).build(ARTICLE)
