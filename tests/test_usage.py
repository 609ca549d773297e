"""The one reader of a response's token usage, and the token estimate used before any answer."""

from __future__ import annotations

from typing import Any

import pytest

from sitrep.model.usage import TokenUsage, estimate_tokens, usage_from_body


def test_usage_is_read_from_the_bodys_usage_object() -> None:
    body = {"usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}}
    assert usage_from_body(body) == TokenUsage(
        prompt_tokens=120, completion_tokens=30, total_tokens=150
    )


@pytest.mark.parametrize("body", [{}, {"usage": None}, {"usage": "lots"}, {"usage": [1, 2]}])
def test_a_body_without_a_usage_object_has_no_usage(body: dict[str, Any]) -> None:
    assert usage_from_body(body) is None


def test_a_missing_total_is_the_sum_of_the_parts() -> None:
    usage = usage_from_body({"usage": {"prompt_tokens": 7, "completion_tokens": 3}})
    assert usage == TokenUsage(prompt_tokens=7, completion_tokens=3, total_tokens=10)


@pytest.mark.parametrize("value", [None, -1, 2.5, "12", True])
def test_a_count_that_is_not_a_whole_number_counts_as_zero(value: object) -> None:
    usage = usage_from_body({"usage": {"prompt_tokens": value, "completion_tokens": 4}})
    assert usage == TokenUsage(prompt_tokens=0, completion_tokens=4, total_tokens=4)


def test_usages_add_field_by_field() -> None:
    one = TokenUsage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    assert one + one == TokenUsage(prompt_tokens=2, completion_tokens=4, total_tokens=6)


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 1), ("abc", 1), ("abcd" * 25, 25), (b"x" * 9, 2)]
)
def test_estimate_is_four_characters_a_token_and_at_least_one(
    text: str | bytes, tokens: int
) -> None:
    assert estimate_tokens(text) == tokens
