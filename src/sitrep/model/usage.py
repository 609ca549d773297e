"""Token usage: what a model call cost, read from its answer in one place.

`usage_from_body` is the only reader of a Chat Completions `usage` object: the send loop logs
it, the rate limiter settles its estimate with it, and the conversation step sums it into the
records' provenance.
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

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
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
    return TokenUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


# Four characters a token is close for English news text and JSON Schema with OpenAI's
# tokenizers; it says nothing exact about other models' tokenizers.
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str | bytes) -> int:
    """Tokens in `text` at `CHARS_PER_TOKEN`, at least one: for budgets before any answer."""
    return max(len(text) // CHARS_PER_TOKEN, 1)
