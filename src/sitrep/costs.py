"""Prices and token counts: what a batch costs before and after it runs.

Prices are US dollars per million tokens, from OpenAI's published list price for standard
processing (August 2025); pass your own table for other models, contracts or endpoints. A dated
model name ("gpt-4.1-mini-2025-04-14") takes the price of the longest listed name it starts with.

Token counts for a dry run use tiktoken when it is installed and its encoding for the model can
be loaded (it downloads encodings on first use, so offline it usually cannot); otherwise they
are estimated at four characters a token, which is close for English news text and JSON Schema
with OpenAI's tokenizers and says nothing exact about other models' tokenizers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sitrep.errors import ConfigurationError

CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class Price:
    input_per_million: float
    output_per_million: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


DEFAULT_PRICES: Mapping[str, Price] = {
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "o4-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
}


def price_for(model: str, prices: Mapping[str, Price] = DEFAULT_PRICES) -> Price | None:
    """The price of `model`, or None when the table does not know it."""
    if model in prices:
        return prices[model]
    prefixes = [name for name in prices if model.startswith(name + "-")]
    return prices[max(prefixes, key=len)] if prefixes else None


def load_prices(path: Path) -> dict[str, Price]:
    """Read `{"model": {"input": 0.4, "output": 1.6}, ...}` (dollars per million tokens)."""
    try:
        raw = json.loads(path.read_text("utf-8"))
        return {
            str(model): Price(float(entry["input"]), float(entry["output"]))
            for model, entry in raw.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(
            f"cannot read prices from {path}: expected "
            '{"model": {"input": <$ per 1M>, "output": <$ per 1M>}} '
            f"({type(exc).__name__}: {exc})"
        ) from exc


def estimate_tokens(text: str | bytes) -> int:
    return max(len(text) // CHARS_PER_TOKEN, 1)


def token_counter(model: str) -> tuple[Callable[[str], int], bool]:
    """A counter for `model` and whether it is exact (tiktoken) or the estimate."""
    try:
        import tiktoken  # noqa: PLC0415  (optional: `pip install 'sitrep[tokens]'`)

        encoding = tiktoken.encoding_for_model(model)
    except Exception:  # not installed, an unknown model, or no network to load the encoding
        return estimate_tokens, False
    return (lambda text: len(encoding.encode(text, disallowed_special=()))), True
