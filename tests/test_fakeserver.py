"""The fake OpenAI server: its answers are what the SDK and sitrep accept, its budgets and faults
behave as configured, and its counters add up.

Every server binds to loopback; every request loop is bounded, and short windows keep the waits
for a budget to free up under a second.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from typing import Any

import httpx2
import openai
import pytest
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionFunctionToolParam,
    ChatCompletionNamedToolChoiceParam,
    ChatCompletionUserMessageParam,
)
from openai.types.shared_params import ResponseFormatJSONSchema

from sitrep.extract.extractor import Extractor
from sitrep.extract.prompts import TOOL_NAME
from sitrep.model.article import Article
from sitrep.settings import ModelConfig, OutputMode
from sitrep.testing.fakeserver import (
    DEFAULT_ARGUMENTS,
    FakeOpenAIServer,
    ServerSettings,
    ServerStats,
)

MODEL = "gpt-fake-model"
TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {"name": TOOL_NAME, "parameters": {"type": "object"}},
}
FORCED: ChatCompletionNamedToolChoiceParam = {"type": "function", "function": {"name": TOOL_NAME}}
SCHEMA_FORMAT: ResponseFormatJSONSchema = {
    "type": "json_schema",
    "json_schema": {"name": TOOL_NAME, "schema": {}},
}
MESSAGES: list[ChatCompletionUserMessageParam] = [{"role": "user", "content": "An article."}]
RATE_HEADERS = [
    f"x-ratelimit-{what}-{kind}"
    for what in ("limit", "remaining", "reset")
    for kind in ("requests", "tokens")
]
OUTCOMES = ("ok", "rate_limited", "injected_429", "server_errors", "timeouts", "malformed")


def _body(text: str = "Shelling was reported overnight.") -> bytes:
    request = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    return json.dumps(request | {"tools": [TOOL], "tool_choice": FORCED}).encode()


@contextmanager
def _serve(**settings: Any) -> Iterator[tuple[FakeOpenAIServer, httpx2.Client]]:
    with FakeOpenAIServer(ServerSettings(**settings)) as server, httpx2.Client(timeout=5) as http:
        yield server, http


def _post(server: FakeOpenAIServer, http: httpx2.Client, body: bytes) -> httpx2.Response:
    headers = {"content-type": "application/json"}
    return http.post(f"{server.base_url}/chat/completions", content=body, headers=headers)


def _arguments(response: httpx2.Response) -> str:
    (call,) = ChatCompletion.model_validate(response.json()).choices[0].message.tool_calls or []
    assert call.type == "function"
    return call.function.arguments


def _assert_counts_add_up(stats: ServerStats) -> None:
    assert stats.in_flight == 0
    outcomes = sum(getattr(stats, name) for name in OUTCOMES) + stats.bad_requests
    assert stats.requests == outcomes


def test_answer_parses_as_a_chat_completion_that_says_it_is_fake() -> None:
    body = _body()
    with _serve() as (server, http):
        response = _post(server, http, body)
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req_fake_1"
    completion = ChatCompletion.model_validate(response.json())
    assert completion.id.startswith("chatcmpl-fake-")
    assert (completion.model, completion.system_fingerprint) == (MODEL, None)
    assert "system_fingerprint" not in response.json()
    assert completion.choices[0].finish_reason == "stop"
    assert _arguments(response) == DEFAULT_ARGUMENTS
    usage = completion.usage
    assert usage is not None
    prompt, answer = len(body) // 4, len(DEFAULT_ARGUMENTS) // 4  # the documented estimates
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        prompt,
        answer,
        prompt + answer,
    )
    assert usage.prompt_tokens_details is not None
    assert usage.completion_tokens_details is not None


def test_openai_client_gets_the_forced_tool_call_back_with_the_default_answer() -> None:
    with FakeOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        with client:
            completion = client.chat.completions.create(
                model=MODEL, messages=MESSAGES, tools=[TOOL], tool_choice=FORCED
            )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == TOOL_NAME
    assert json.loads(call.function.arguments) == {"incidents": [], "statistics": []}
    assert completion._request_id == "req_fake_1"


def test_openai_client_gets_json_schema_answers_as_message_content() -> None:
    with FakeOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        with client:
            completion = client.chat.completions.create(
                model=MODEL, messages=MESSAGES, response_format=SCHEMA_FORMAT
            )
    message = completion.choices[0].message
    assert message.tool_calls is None
    assert message.content == DEFAULT_ARGUMENTS


@pytest.mark.parametrize("mode", list(OutputMode))
def test_sitrep_extractor_accepts_the_default_answer_as_an_empty_extraction(
    mode: OutputMode,
) -> None:
    article = Article.from_text("Nothing happened in the village today, residents said.")
    with FakeOpenAIServer() as server:
        config = ModelConfig(model=MODEL, base_url=server.base_url, mode=mode)
        extractor = Extractor(config, api_key="not-a-key")
        try:
            result = extractor.extract(article)
        finally:
            extractor.close()
    assert (result.incidents, result.statistics) == ([], [])
    assert result.provenance.request_ids == ["req_fake_1"]


def test_answer_function_receives_the_request_body() -> None:
    def answer(body: dict[str, Any]) -> str:
        return json.dumps({"model_was": body["model"]})

    with _serve(answer=answer) as (server, http):
        assert json.loads(_arguments(_post(server, http, _body()))) == {"model_was": MODEL}


def test_latency_overlaps_so_32_concurrent_requests_take_about_one_latency() -> None:
    async def burst(base_url: str) -> float:
        async with httpx2.AsyncClient(timeout=5, limits=httpx2.Limits(max_connections=32)) as http:
            started = time.perf_counter()
            url, headers = f"{base_url}/chat/completions", {"content-type": "application/json"}
            calls = [http.post(url, content=_body(), headers=headers) for _ in range(32)]
            responses = await asyncio.gather(*calls)
            assert {r.status_code for r in responses} == {200}
            return time.perf_counter() - started

    with FakeOpenAIServer(ServerSettings(latency=0.1)) as server:
        elapsed = asyncio.run(burst(server.base_url))  # the test's own loop, not the server's
        stats = server.stats()
    assert 0.1 <= elapsed < 1.0  # one after another they would take 3.2 s
    assert (stats.requests, stats.ok) == (32, 32)


def test_requests_beyond_rpm_get_429_with_retry_after_until_the_window_passes() -> None:
    with _serve(rpm=5, tpm=10**6, window=0.2) as (server, http):
        answered = [_post(server, http, _body()) for _ in range(5)]
        refused = _post(server, http, _body())
        assert [r.status_code for r in answered] == [200] * 5
        assert [r.headers["x-ratelimit-remaining-requests"] for r in answered] == list("43210")
        assert refused.status_code == 429
        assert all(name in refused.headers for name in RATE_HEADERS)
        assert refused.headers["x-ratelimit-limit-requests"] == "5"
        assert float(refused.headers["retry-after"]) > 0
        wait = int(refused.headers["retry-after-ms"]) / 1000
        assert 0 < wait <= 0.2
        error = refused.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "requests",
            "rate_limit_exceeded",
            None,
        )
        assert error["message"].startswith("Rate limit reached")
        time.sleep(wait + 0.02)
        assert _post(server, http, _body()).status_code == 200
        stats = server.stats()
    assert (stats.ok, stats.rate_limited) == (6, 1)
    _assert_counts_add_up(stats)


def test_tokens_beyond_tpm_get_429_until_the_window_passes() -> None:
    body = _body("x" * 4000)
    cost = len(body) // 4 + len(DEFAULT_ARGUMENTS) // 4
    with _serve(tpm=2 * cost + 10, window=0.2) as (server, http):
        answered = [_post(server, http, body) for _ in range(2)]
        assert [r.status_code for r in answered] == [200, 200]
        assert answered[1].headers["x-ratelimit-remaining-tokens"] == "10"
        refused = _post(server, http, body)
        assert refused.status_code == 429
        assert refused.json()["error"]["type"] == "tokens"
        assert refused.headers["x-ratelimit-limit-tokens"] == str(2 * cost + 10)
        wait = int(refused.headers["retry-after-ms"]) / 1000
        assert 0 < wait <= 0.2
        small = _body()
        assert _post(server, http, small).status_code == 429  # still over: 10 tokens are left
        time.sleep(wait + 0.02)
        assert _post(server, http, body).status_code == 200
        stats = server.stats()
    assert (stats.ok, stats.rate_limited, stats.tokens) == (3, 2, 3 * cost)
    _assert_counts_add_up(stats)


def _fault_run(seed: int) -> tuple[list[str], ServerStats]:
    """200 requests one after another; each outcome named by its status and arguments."""
    outcomes: list[str] = []
    faults = ("429", "500", "malformed")
    with _serve(fault_rate=0.2, faults=faults, seed=seed, fault_retry_after=0.05) as (server, http):
        for _ in range(200):
            response = _post(server, http, _body())
            if response.status_code == 429:
                assert response.headers["retry-after-ms"] == "50"
                assert response.json()["error"]["code"] == "rate_limit_exceeded"
            if response.status_code == 500:
                assert response.json()["error"]["type"] == "server_error"
            if response.status_code != 200:
                outcomes.append(str(response.status_code))
                continue
            try:
                json.loads(_arguments(response))
            except json.JSONDecodeError:
                outcomes.append("malformed")
            else:
                outcomes.append("ok")
        return outcomes, server.stats()


def test_seeded_faults_are_deterministic_near_the_rate_and_of_every_kind() -> None:
    outcomes, stats = _fault_run(seed=7)
    again, _ = _fault_run(seed=7)
    assert outcomes == again
    faults = [o for o in outcomes if o != "ok"]
    assert 25 <= len(faults) <= 55  # 40 expected
    assert set(faults) == {"429", "500", "malformed"}
    assert (stats.injected_429, stats.server_errors, stats.malformed) == (
        faults.count("429"),
        faults.count("500"),
        faults.count("malformed"),
    )
    assert (stats.rate_limited, stats.timeouts) == (0, 0)
    _assert_counts_add_up(stats)


def test_timeout_fault_makes_a_client_with_a_short_timeout_raise_api_timeout_error() -> None:
    settings = ServerSettings(fault_rate=1.0, faults=("timeout",), timeout_hold=1.0)
    with FakeOpenAIServer(settings) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=0.2)
        with client, pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
    stats = server.stats()
    assert (stats.requests, stats.timeouts) == (1, 1)


def test_stats_endpoint_matches_the_snapshot_and_reset_zeroes_it() -> None:
    with _serve(fault_rate=0.5, faults=("500",)) as (server, http):
        for _ in range(10):
            _post(server, http, _body())
        bad = http.post(f"{server.base_url}/chat/completions", content=b"not json")
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid_request_error"
        stats = server.stats()
        served = http.get(server.base_url.removesuffix("/v1") + "/stats").json()
        server.reset_stats()
        after = server.stats()
    assert served == asdict(stats)
    assert (stats.requests, stats.bad_requests, stats.ok + stats.server_errors) == (11, 1, 10)
    assert stats.server_errors > 0
    _assert_counts_add_up(stats)
    assert all(getattr(after, f.name) == 0 for f in fields(ServerStats))


def test_a_port_in_use_fails_to_start_with_the_cause_attached() -> None:
    with FakeOpenAIServer() as first:
        second = FakeOpenAIServer(port=first.port)
        with pytest.raises(RuntimeError, match="did not start") as caught:
            second.start()
        assert isinstance(caught.value.__cause__, OSError)
        second.stop()  # nothing to stop: a no-op


@pytest.mark.parametrize(
    "settings",
    [{"faults": ("slow",)}, {"faults": ()}, {"fault_rate": 1.5}, {"rpm": 0}, {"window": 0}],
)
def test_settings_reject_impossible_values(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        ServerSettings(**settings)
