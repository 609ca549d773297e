"""Every setting a user can give sitrep, with its default: one frozen, typed object per concern.

    ModelConfig   which model to ask and how (endpoint, output mode, limits, re-ask budget)
    RetryPolicy   how long to keep trying through transport faults
    BatchOptions  how a batch runs (concurrency, rate limits, cost ceiling, prices, cache,
                  the processes that read web pages)
    BatchApiOptions  how a run goes through the OpenAI Batch API (file limits, polling,
                  resubmission, where re-asks go)

None of them holds a credential, so each is safe to log. The command line takes its defaults
from here rather than repeating them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from sitrep.errors import ConfigurationError

OPENAI_BASE_URL = "https://api.openai.com/v1"
_OPENAI_HOST = "api.openai.com"
_OPENAI_TIMEOUT = 120.0
_LOCAL_TIMEOUT = 600.0
DEFAULT_MODEL = "gpt-4.1-mini"
# A ceiling against runaway cost, not a request's size: a longer text (a scraped dump, a book)
# fails with that reason. Shorter ones that one request cannot carry are split into chunks: a
# 250,000-character article takes seven requests at the default chunk size, a text at the
# ceiling some 27.
MAX_ARTICLE_CHARS = 1_000_000
# The most article text one request carries, even when the context window holds far more: one
# answer's output cap bounds how many records it can return, so a long text read in one request
# loses records. Some 10,000 tokens, a long news feature.
CHUNK_CHARS = 40_000
# Text two neighbouring chunks share, so that a passage cut by one chunk's end is whole in the
# next: three or four paragraphs of news text.
CHUNK_OVERLAP = 1_500
# Less than a few paragraphs a chunk cuts most incidents in two.
MIN_CHUNK_CHARS = 1_000
# The `ModelConfig.prompt_cache_key` that stands for a key derived from the model, the output
# mode and the prompt version.
PROMPT_CACHE_KEY_AUTO = "auto"
# The share of every rate a Batch API request is billed at: OpenAI's Batch API bills half.
BATCH_SHARE = 0.5


class OutputMode(StrEnum):
    """How the model is made to answer in the draft's schema."""

    TOOLS = "tools"  # a forced function call: the widest support among compatible servers
    JSON_SCHEMA = "json_schema"  # strict structured output (response_format json_schema)
    # response_format json_object with the schema in the prompt, for servers that refuse
    # json_schema (llama.cpp's server answers it with a 500); checked in code the same way.
    JSON_OBJECT = "json_object"


class PromptProfile(StrEnum):
    """Which prompt set to send: each is a directory under `prompts/`."""

    FULL = "full"  # the full instructions and two worked examples
    COMPACT = "compact"  # the rules in brief and no example, for small context windows


class OutputCapField(StrEnum):
    """The request field that carries `max_output_tokens`."""

    AUTO = "auto"  # max_completion_tokens for OpenAI itself, max_tokens for any other server
    MAX_COMPLETION_TOKENS = "max_completion_tokens"  # OpenAI's current name
    MAX_TOKENS = "max_tokens"  # the older name, the one compatible servers read


class ReaskStyle(StrEnum):
    """How the problems with an invalid function call are sent back."""

    AUTO = "auto"  # tool for OpenAI itself, user for any other server
    TOOL = "tool"  # a `tool` message answering the call, as OpenAI expects
    # The answer as the assistant's text and the problems as a user message: some servers'
    # chat templates drop `tool` messages, so a correction sent that way never reaches the model.
    USER = "user"


# Context windows of the listed models in tokens (OpenAI's model pages), by name prefix as for
# prices. A model not listed has no known window unless `ModelConfig.context_window` gives one.
KNOWN_CONTEXT_WINDOWS: Mapping[str, int] = MappingProxyType(
    {
        "gpt-5": 400_000,
        "gpt-4.1": 1_047_576,
        "gpt-4o": 128_000,
        "o4-mini": 200_000,
        "o3": 200_000,
    }
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep trying through transport faults."""

    max_attempts: int = 6
    initial_wait: float = 1.0  # seconds before the first retry, doubled each time
    max_wait: float = 60.0  # cap on one backoff wait (a longer Retry-After is still honoured)
    jitter: float = 1.0  # up to this many random seconds added to each backoff wait
    deadline: float = 300.0  # no attempt starts once this many seconds have passed
    # Whether a request that timed out waiting for its answer is sent again. None: only to
    # OpenAI itself. A local server keeps computing an answer nobody waits for, so a copy sent
    # again queues behind it and times out in turn.
    resend_timed_out: bool | None = None


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Which model to ask and how. Holds no credential, so it is safe to log."""

    model: str
    base_url: str = OPENAI_BASE_URL
    mode: OutputMode = OutputMode.TOOLS
    prompt_profile: PromptProfile = PromptProfile.FULL
    temperature: float | None = 0.0  # None leaves it to the server (some models refuse 0)
    max_output_tokens: int = 4096
    output_cap_field: OutputCapField = OutputCapField.AUTO
    # Tokens the model reads and writes in one request; None: the known window of the model
    # (KNOWN_CONTEXT_WINDOWS), or no check before sending when it is not known.
    context_window: int | None = None
    # Seconds to wait for one answer; None: 120 for OpenAI itself, 600 for any other server
    # (a small local model can take minutes over one long prompt).
    request_timeout: float | None = None
    reask_budget: int = 2  # re-asks after invalid output, on top of the first answer
    reask_style: ReaskStyle = ReaskStyle.AUTO
    max_article_chars: int = MAX_ARTICLE_CHARS
    # An article longer than one request can carry (this, or less when the context window
    # leaves less room beside the prompt and the output cap) is read in overlapping chunks.
    chunk_chars: int = CHUNK_CHARS
    # Taken as a quarter of a chunk when larger, so that each chunk reads mostly new text.
    chunk_overlap: int = CHUNK_OVERLAP
    # OpenAI's `prompt_cache_key`, sent with every request when set: requests with the same
    # key and prefix are routed to the same prompt cache. PROMPT_CACHE_KEY_AUTO ("auto") is a
    # key derived from the model, the output mode and the prompt version. None sends no such
    # field: not every compatible server accepts it.
    prompt_cache_key: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigurationError("a model name is required")
        if self.reask_budget < 0:
            raise ConfigurationError("reask_budget cannot be negative")
        if self.max_output_tokens < 1:
            raise ConfigurationError("max_output_tokens must be positive")
        if self.max_article_chars < 1:
            raise ConfigurationError("max_article_chars must be positive")
        if self.chunk_chars < MIN_CHUNK_CHARS:
            raise ConfigurationError(
                f"chunk_chars must be at least {MIN_CHUNK_CHARS:,}: a chunk that holds less than a "
                "few paragraphs cuts most incidents in two"
            )
        if self.chunk_overlap < 0:
            raise ConfigurationError("chunk_overlap cannot be negative")
        if self.prompt_cache_key is not None and not self.prompt_cache_key.strip():
            raise ConfigurationError(
                "prompt_cache_key cannot be blank: give a key, 'auto', or leave it unset"
            )
        if self.request_timeout is not None and self.request_timeout <= 0:
            raise ConfigurationError("request_timeout must be positive")
        if self.context_window is not None and self.context_window <= self.max_output_tokens:
            raise ConfigurationError(
                f"a context window of {self.context_window} tokens leaves no room for the "
                f"prompt beside {self.max_output_tokens} output tokens (max_output_tokens)"
            )

    # What the AUTO settings become. OpenAI's own endpoint is told apart from every other
    # server by its host, here and nowhere else.
    @property
    def is_openai(self) -> bool:
        """Whether the endpoint is OpenAI's own API."""
        return urlsplit(self.base_url).hostname == _OPENAI_HOST

    @property
    def cap_field(self) -> OutputCapField:
        if self.output_cap_field is not OutputCapField.AUTO:
            return self.output_cap_field
        if self.is_openai:
            return OutputCapField.MAX_COMPLETION_TOKENS
        return OutputCapField.MAX_TOKENS

    @property
    def reask_as(self) -> ReaskStyle:
        """TOOL or USER. Only a function call can be answered by a `tool` message."""
        if self.mode is not OutputMode.TOOLS:
            return ReaskStyle.USER
        if self.reask_style is not ReaskStyle.AUTO:
            return self.reask_style
        return ReaskStyle.TOOL if self.is_openai else ReaskStyle.USER

    @property
    def context_tokens(self) -> int | None:
        """The model's context window in tokens, if it is given or known."""
        if self.context_window is not None:
            return self.context_window
        return longest_prefix(self.model, KNOWN_CONTEXT_WINDOWS)

    @property
    def timeout(self) -> float:
        """Seconds to wait for one answer."""
        if self.request_timeout is not None:
            return self.request_timeout
        return _OPENAI_TIMEOUT if self.is_openai else _LOCAL_TIMEOUT

    @property
    def resends_timed_out(self) -> bool:
        if self.retry.resend_timed_out is not None:
            return self.retry.resend_timed_out
        return self.is_openai


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens: input, output, and cached input (prompt tokens the
    server answered from its prompt cache). Without a cached rate, cached tokens cost input.

    `batch_share` is the share of every rate a Batch API request is billed at (OpenAI's: half);
    `for_batch` is that price. The cached rate is scaled with the others: a provider that does
    not apply its prompt cache to batch requests reports no cached tokens for them, so nothing
    is priced as cached that was not."""

    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None = None
    batch_share: float = BATCH_SHARE

    def __post_init__(self) -> None:
        if not 0 < self.batch_share <= 1:
            raise ValueError(
                f"batch_share must be more than 0 and at most 1 (the share of each rate a "
                f"Batch API request costs), not {self.batch_share}"
            )

    def for_batch(self) -> Price:
        """The price a Batch API request is billed at: every rate times `batch_share`."""
        share = self.batch_share
        cached = self.cached_input_per_million
        return Price(
            self.input_per_million * share,
            self.output_per_million * share,
            None if cached is None else cached * share,
            batch_share=1.0,
        )

    @property
    def cached_rate(self) -> float:
        """Dollars per million cached input tokens."""
        if self.cached_input_per_million is None:
            return self.input_per_million
        return self.cached_input_per_million

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        """The cost of a call: its uncached prompt tokens at the input rate, its cached ones
        (part of `prompt_tokens`) at the cached rate, its completion at the output rate."""
        cached = min(cached_tokens, prompt_tokens)
        return (
            (prompt_tokens - cached) * self.input_per_million
            + cached * self.cached_rate
            + completion_tokens * self.output_per_million
        ) / 1_000_000

    def saving(self, cached_tokens: int) -> float:
        """What `cached_tokens` would have cost at the input rate, less what they cost."""
        return cached_tokens * (self.input_per_million - self.cached_rate) / 1_000_000


# OpenAI's published list prices for standard processing (input, output, cached input;
# August 2025). Batch API prices are half of each rate, as OpenAI publishes them (`batch_share`
# left at 0.5). A dated model name ("gpt-4.1-mini-2025-04-14") takes the price of the longest
# listed name it starts with.
DEFAULT_PRICES: Mapping[str, Price] = MappingProxyType(
    {
        "gpt-5": Price(1.25, 10.00, 0.125),
        "gpt-5-mini": Price(0.25, 2.00, 0.025),
        "gpt-5-nano": Price(0.05, 0.40, 0.005),
        "gpt-4.1": Price(2.00, 8.00, 0.50),
        "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
        "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
        "gpt-4o": Price(2.50, 10.00, 1.25),
        "gpt-4o-mini": Price(0.15, 0.60, 0.075),
        "o4-mini": Price(1.10, 4.40, 0.275),
        "o3": Price(2.00, 8.00, 0.50),
    }
)


def default_read_workers() -> int:
    """Processes that reduce web pages to their article: one a core, up to four (each reads
    some 200 of 100 KB a second, BENCHMARKS.md "Reading"); 1 reads in the batch's own
    process."""
    return max(1, min(4, os.cpu_count() or 1))


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
    read_workers: int = field(default_factory=default_read_workers)  # 1: read in this process


class ReaskRoute(StrEnum):
    """Where the Batch API path sends a re-ask: in the next batch, or at once, interactively."""

    BATCH = "batch"
    INTERACTIVE = "interactive"


@dataclass(frozen=True, slots=True)
class BatchApiOptions:
    """How a run goes through the OpenAI Batch API (`sitrep run --batch-api`)."""

    # OpenAI's limits for one batch's input file: 50,000 requests and 200 MB.
    max_requests_per_file: int = 50_000
    max_file_bytes: int = 200 * 2**20
    completion_window: Literal["24h"] = "24h"  # the only window OpenAI offers
    wait: bool = True  # poll until every batch is collected; False: submit and return
    # Polling backs off from the first interval to the longest, by the factor each time.
    poll_initial: float = 5.0
    poll_max: float = 300.0
    poll_factor: float = 1.5
    # Times a request whose line failed (a 429 or 5xx in its line) is submitted in all; lines
    # a batch never ran (it expired or was cancelled) are submitted again without counting.
    max_line_attempts: int = 3
    # Times a request is submitted in all, lines never run included: past it, batches that
    # keep expiring or being cancelled before they reach it fail its article.
    max_submissions: int = 6
    reask: ReaskRoute = ReaskRoute.BATCH

    def __post_init__(self) -> None:
        if self.max_requests_per_file < 1 or self.max_file_bytes < 1:
            raise ConfigurationError("a batch file must be allowed at least one request and byte")
        if self.poll_initial <= 0 or self.poll_max < self.poll_initial or self.poll_factor < 1:
            raise ConfigurationError(
                "polling needs poll_initial > 0, poll_max >= poll_initial and poll_factor >= 1"
            )
        if not 1 <= self.max_line_attempts <= self.max_submissions:
            raise ConfigurationError(
                "max_line_attempts must be at least 1 and at most max_submissions"
            )


Value = TypeVar("Value")


def longest_prefix(model: str, table: Mapping[str, Value]) -> Value | None:
    """The entry of the longest listed name `model` starts with: a dated model name
    ("gpt-4.1-mini-2025-04-14") takes the entry of its family."""
    names = [name for name in table if model == name or model.startswith(name + "-")]
    return table[max(names, key=len)] if names else None
