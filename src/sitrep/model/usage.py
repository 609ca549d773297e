"""Token usage: what a model call cost, read from its answer in one place.

`usage_from_body` is the only reader of a Chat Completions `usage` object: the send loop logs
it, the rate limiter settles its estimate with it, and the conversation step sums it into the
records' provenance.

`cached_tokens` are the prompt tokens the server answered from its prompt cache (OpenAI's
`prompt_tokens_details.cached_tokens`), billed at a lower rate; they are part of
`prompt_tokens`, never on top of it. A server that does not say reports none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


class TokenUsage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, served from the prompt cache

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )


def usage_from_body(body: Mapping[str, Any]) -> TokenUsage | None:
    """The usage of a chat completion's JSON body; None when the server sent none.

    A count that is missing or not a whole number is taken as 0 rather than failing the answer:
    some compatible servers leave fields out, and usage only ever feeds accounting.
    """
    usage = body.get("usage")
    if not isinstance(usage, Mapping):
        return None
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    total = _count(usage.get("total_tokens")) or prompt + completion
    details = usage.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        # Never more than the prompt it is part of, whatever a server reports.
        cached_tokens=min(cached, prompt),
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


# Four characters a token is close for English news text and JSON Schema with OpenAI's
# tokenizers; it says nothing exact about other models' tokenizers.
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str | bytes) -> int:
    """Tokens in `text` at `CHARS_PER_TOKEN`, at least one: for budgets before any answer."""
    return max(len(text) // CHARS_PER_TOKEN, 1)


# OpenAI's prompt caching (its "Prompt caching" guide): a prompt of at least 1,024 tokens is
# cached, in 128-token increments past the first 1,024, its longest prefix seen before.
CACHE_MIN_TOKENS = 1024
CACHE_INCREMENT_TOKENS = 128


def cacheable_tokens(prefix_tokens: int) -> int:
    """Tokens of a prefix this many tokens long that OpenAI's prompt cache can serve: none
    below 1,024, else the prefix rounded down to 1,024 plus a whole number of 128s."""
    if prefix_tokens < CACHE_MIN_TOKENS:
        return 0
    extra = prefix_tokens - CACHE_MIN_TOKENS
    return CACHE_MIN_TOKENS + extra - extra % CACHE_INCREMENT_TOKENS
