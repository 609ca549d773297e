"""The budget: prices, estimates and the cost ceiling, before, while and after a batch runs.

Prices are US dollars per million tokens (`sitrep.settings.DEFAULT_PRICES`, OpenAI's list
prices; pass your own table for other models, contracts or endpoints). Prompt tokens the
server answered from its prompt cache are charged at the cached input rate, or at the input
rate when the table has none. A dated model name
("gpt-4.1-mini-2025-04-14") takes the price of the longest listed name it starts with.

Before an article is sent its cost is estimated from its length and the fixed part of every
request (four characters a token) and the expected completion tokens, for each of its requests
when it is long enough to be sent in chunks; once it finishes, the usage its answers report is
what counts. No article starts once what was spent plus the
estimates of the articles in flight plus its own estimate would pass the ceiling.

Token counts for a dry run use tiktoken when it is installed and its encoding for the model can
be loaded (it downloads encodings on first use, so offline it usually cannot); otherwise they
are estimated at four characters a token.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sitrep.errors import ArticleError, ConfigurationError
from sitrep.model.article import Article
from sitrep.model.usage import CHARS_PER_TOKEN, TokenUsage, estimate_tokens
from sitrep.settings import BATCH_SHARE, DEFAULT_PRICES, Price, longest_prefix
from sitrep.text.chunks import Chunk


def price_for(model: str, prices: Mapping[str, Price] = DEFAULT_PRICES) -> Price | None:
    """The price of `model`, or None when the table does not know it."""
    return longest_prefix(model, prices)


def load_prices(path: Path) -> dict[str, Price]:
    """Read `{"model": {"input": 0.4, "output": 1.6, "cached_input": 0.1}, ...}` (dollars per
    million tokens). `cached_input` may be left out: cached tokens are then priced as input.
    `batch_share` (optional, more than 0 and at most 1; default 0.5, OpenAI's half) is the share
    of every rate a Batch API request costs. It scales the cached rate too: a provider that does
    not apply its prompt cache to batch requests reports no cached tokens for them, so nothing
    is priced as cached that was not."""
    try:
        raw = json.loads(path.read_text("utf-8"))
        return {str(model): _price(entry) for model, entry in raw.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(
            f"cannot read prices from {path}: expected "
            '{"model": {"input": <$ per 1M>, "output": <$ per 1M>, '
            '"cached_input": <$ per 1M, optional>, '
            '"batch_share": <share of each rate for the Batch API, 0 to 1, optional>}} '
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _price(entry: Mapping[str, Any]) -> Price:
    cached = entry.get("cached_input")
    share = entry.get("batch_share")
    return Price(
        float(entry["input"]),
        float(entry["output"]),
        None if cached is None else float(cached),
        BATCH_SHARE if share is None else float(share),
    )


def token_counter(model: str) -> tuple[Callable[[str], int], bool]:
    """A counter for `model` and whether it is exact (tiktoken) or the estimate."""
    try:
        import tiktoken  # noqa: PLC0415  (optional: `pip install 'sitrep[tokens]'`)

        encoding = tiktoken.encoding_for_model(model)
    except Exception:  # not installed, an unknown model, or no network to load the encoding
        return estimate_tokens, False
    return (lambda text: len(encoding.encode(text, disallowed_special=()))), True


class Budget:
    """What a run has spent, what its articles in flight are expected to, and the ceiling."""

    def __init__(
        self,
        price: Price | None,
        *,
        max_cost: float | None,
        expected_output_tokens: int,
        fixed_request_chars: int,
        chunks: Callable[[Article], Sequence[Chunk]] | None = None,
    ) -> None:
        """`chunks` says how an article is sent (`RequestBuilder.chunks`); without it, whole."""
        self.price = price
        self.max_cost = max_cost
        self.usage = TokenUsage()
        self.spent = 0.0
        self._expected_output = expected_output_tokens
        self._fixed_chars = fixed_request_chars
        self._chunks = chunks
        self._in_flight = 0.0  # estimated cost of the articles started and not yet finished

    @property
    def cost(self) -> float | None:
        """Spent so far in US dollars; None when the model has no price."""
        return self.spent if self.price is not None else None

    @property
    def cache_saving(self) -> float | None:
        """What the prompt cache saved so far: the cached tokens at the input rate, less
        what they cost at the cached rate; None when the model has no price."""
        return self.price.saving(self.usage.cached_tokens) if self.price is not None else None

    def estimate(self, article: Article) -> float:
        """The expected cost of extracting `article` (0 without a price)."""
        if self.price is None:
            return 0.0
        try:
            sizes = [len(c) for c in self._chunks(article)] if self._chunks else [len(article.text)]
        except ArticleError:
            return 0.0  # it fails before any request is sent
        prompt_tokens = sum((self._fixed_chars + size) // CHARS_PER_TOKEN for size in sizes)
        return self.price.cost(prompt_tokens, self._expected_output * len(sizes))

    def would_pass_ceiling(self, article: Article) -> bool:
        if self.max_cost is None or self.price is None:
            return False
        return self.spent + self._in_flight + self.estimate(article) > self.max_cost

    def reserve(self, article: Article) -> float:
        """Count `article`'s estimate as in flight; `release` it when the article finishes."""
        estimate = self.estimate(article)
        self._in_flight += estimate
        return estimate

    def release(self, estimate: float) -> None:
        self._in_flight -= estimate

    def charge(self, usage: TokenUsage) -> float | None:
        """Add what an article's answers used; return its cost (None without a price)."""
        self.usage = self.usage + usage
        if self.price is None:
            return None
        cost = self.price.cost(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        self.spent += cost
        return cost
