"""Every setting a user can give sitrep, with its default: one frozen, typed object per concern.

    ModelConfig   which model to ask and how (endpoint, output mode, limits, re-ask budget)
    RetryPolicy   how long to keep trying through transport faults
    BatchOptions  how a batch runs (concurrency, rate limits, cost ceiling, prices, cache)

None of them holds a credential, so each is safe to log. The command line takes its defaults
from here rather than repeating them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from sitrep.errors import ConfigurationError

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4.1-mini"
# Some 15,000 tokens: room for any news article in every current model's context, with the
# prompt, and a guard against whole books or scraped page dumps.
MAX_ARTICLE_CHARS = 60_000


class OutputMode(StrEnum):
    """How the model is made to answer in the draft's schema."""

    TOOLS = "tools"  # a forced function call: the widest support among compatible servers
    JSON_SCHEMA = "json_schema"  # strict structured output (response_format json_schema)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep trying through transport faults."""

    max_attempts: int = 6
    initial_wait: float = 1.0  # seconds before the first retry, doubled each time
    max_wait: float = 60.0  # cap on one backoff wait (a longer Retry-After is still honoured)
    jitter: float = 1.0  # up to this many random seconds added to each backoff wait
    deadline: float = 300.0  # no attempt starts once this many seconds have passed


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Which model to ask and how. Holds no credential, so it is safe to log."""

    model: str
    base_url: str = OPENAI_BASE_URL
    mode: OutputMode = OutputMode.TOOLS
    temperature: float | None = 0.0  # None leaves it to the server (some models refuse 0)
    max_output_tokens: int = 4096
    request_timeout: float = 120.0  # seconds for one HTTP request
    reask_budget: int = 2  # re-asks after invalid output, on top of the first answer
    max_article_chars: int = MAX_ARTICLE_CHARS
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigurationError("a model name is required")
        if self.reask_budget < 0:
            raise ConfigurationError("reask_budget cannot be negative")
        if self.max_output_tokens < 1:
            raise ConfigurationError("max_output_tokens must be positive")


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


# OpenAI's published list prices for standard processing (August 2025). A dated model name
# ("gpt-4.1-mini-2025-04-14") takes the price of the longest listed name it starts with.
DEFAULT_PRICES: Mapping[str, Price] = MappingProxyType(
    {
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
)


@dataclass(frozen=True, slots=True)
class BatchOptions:
    concurrency: int = 16  # requests in flight at once
    rpm: int | None = None  # requests per minute the endpoint allows
    tpm: int | None = None  # tokens per minute the endpoint allows
    max_cost: float | None = None  # US dollars; no article starts once this is reached
    retry_failed: bool = False  # try failed articles again
    prices: Mapping[str, Price] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    expected_output_tokens: int = 1000  # for budgets before a response says how many it used
    use_cache: bool = True  # serve identical requests from earlier answers
