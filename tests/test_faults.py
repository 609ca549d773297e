"""Every failure path, replayed from its cassette through the whole extractor.

The cassettes are authored (cassettes/README.md): each holds the exact wire exchange of one fault
and, where the fault can be cured, the answer that follows. Each test asserts the number of HTTP
calls (every interaction must be played), the outcome, and what was spent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
import yaml

from conftest import CASSETTES
from sitrep.errors import (
    AuthenticationError,
    InvalidOutputError,
    RefusalError,
    TruncatedOutputError,
)
from sitrep.extract.extractor import Extractor
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.settings import OutputMode

Cassette = Callable[[str], AbstractContextManager[None]]


def _check_mortar_strike(result: Extraction) -> None:
    (incident,) = result.incidents
    assert (incident.munitions.launched, incident.munitions.impacted) == (3, 2)
    assert [(c.outcome.value, c.best) for c in incident.casualties] == [("injured", 2)]
    assert str(incident.when.start) == "2023-11-07"


def test_rate_limit_is_retried_after_the_servers_retry_after_and_then_succeeds(
    cassette: Cassette,
    make_extractor: Callable[..., Extractor],
    fault_article: Article,
    no_sleep: list[float],
) -> None:
    with cassette("faults/rate_limited_then_ok"):
        result = make_extractor().extract(fault_article)
    _check_mortar_strike(result)
    assert no_sleep == [2.0]  # the recorded Retry-After, not a backoff guess
    assert result.provenance.reasks == 0  # a 429 is never fed back to the model
    assert len(result.provenance.request_ids) == 1  # only answered calls carry usage and ids


def test_server_error_is_retried_with_backoff_and_then_succeeds(
    cassette: Cassette,
    make_extractor: Callable[..., Extractor],
    fault_article: Article,
    no_sleep: list[float],
) -> None:
    with cassette("faults/server_error_then_ok"):
        result = make_extractor().extract(fault_article)
    _check_mortar_strike(result)
    (wait,) = no_sleep
    assert 1.0 <= wait <= 2.0  # initial_wait plus up to one second of jitter
    assert result.provenance.reasks == 0


def test_async_rate_limit_is_retried_the_same_way(
    cassette: Cassette,
    make_extractor: Callable[..., Extractor],
    fault_article: Article,
    no_sleep: list[float],
) -> None:
    with cassette("faults/rate_limited_then_ok"):
        result = asyncio.run(make_extractor().aextract(fault_article))
    _check_mortar_strike(result)
    assert no_sleep == [2.0]


def test_fabricated_quote_is_reasked_and_the_corrected_answer_is_kept(
    cassette: Cassette, make_extractor: Callable[..., Extractor], fault_article: Article
) -> None:
    with cassette("faults/fabricated_quote_reasked"):
        result = make_extractor().extract(fault_article)
    _check_mortar_strike(result)
    assert result.provenance.reasks == 1
    assert len(result.provenance.request_ids) == 2


def test_usage_is_summed_over_every_attempt_including_reasks(
    cassette: Cassette, make_extractor: Callable[..., Extractor], fault_article: Article
) -> None:
    with cassette("faults/fabricated_quote_reasked"):
        result = make_extractor().extract(fault_article)
    recorded = [
        json.loads(i["response"]["body"]["string"])["usage"]
        for i in yaml.safe_load(
            (CASSETTES / "faults" / "fabricated_quote_reasked.yaml").read_text("utf-8")
        )["interactions"]
    ]
    assert len(recorded) == 2
    usage = result.provenance.usage
    for field in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert getattr(usage, field) == sum(u[field] for u in recorded)


def test_fabricated_quote_that_persists_exhausts_the_reask_budget(
    cassette: Cassette, make_extractor: Callable[..., Extractor], fault_article: Article
) -> None:
    with cassette("faults/fabricated_quote_persists"), pytest.raises(InvalidOutputError) as info:
        make_extractor().extract(fault_article)
    error = info.value
    assert "after 2 re-ask(s)" in str(error)
    assert len(error.request_ids) == 3  # the first answer and two re-asks, no more
    assert any("killing a soldier" in p and "evidence[0]" in p for p in error.problems)
    assert error.usage.total_tokens > 0


def test_malformed_tool_arguments_are_reasked(
    cassette: Cassette, make_extractor: Callable[..., Extractor], fault_article: Article
) -> None:
    with cassette("faults/malformed_arguments_reasked"):
        result = make_extractor().extract(fault_article)
    _check_mortar_strike(result)
    assert result.provenance.reasks == 1


def test_truncated_answer_raises_its_own_error_without_a_reask(
    cassette: Cassette, make_extractor: Callable[..., Extractor], fault_article: Article
) -> None:
    with cassette("faults/truncated"), pytest.raises(TruncatedOutputError) as info:
        make_extractor().extract(fault_article)
    assert "finish_reason 'length'" in str(info.value)
    assert len(info.value.request_ids) == 1
    assert info.value.usage.completion_tokens > 0


def test_refusal_raises_its_own_error_naming_the_refusal(
    cassette: Cassette, make_extractor: Callable[..., Extractor], fault_article: Article
) -> None:
    with cassette("faults/refusal"), pytest.raises(RefusalError) as info:
        make_extractor().extract(fault_article)
    assert "can't help with that" in str(info.value)


def test_unauthorized_fails_at_once_with_a_clear_message(
    cassette: Cassette,
    make_extractor: Callable[..., Extractor],
    fault_article: Article,
    no_sleep: list[float],
) -> None:
    with cassette("faults/unauthorized"), pytest.raises(AuthenticationError) as info:
        make_extractor().extract(fault_article)
    assert info.value.status_code == 401
    assert "Incorrect API key provided" in str(info.value)
    assert no_sleep == []  # never retried


def test_json_schema_mode_sends_a_strict_response_format_and_parses_content(
    cassette: Cassette, make_extractor: Callable[..., Extractor], fault_article: Article
) -> None:
    with cassette("modes/json_schema"):
        result = make_extractor(mode=OutputMode.JSON_SCHEMA).extract(fault_article)
    _check_mortar_strike(result)
