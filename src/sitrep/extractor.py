"""One article in, typed records out: the extraction pipeline.

    article → messages (prompts/) → chat completion (openai SDK; transport retries in
    `sitrep.transport`) → draft (parsed by instructor's handler for the mode) → checks and
    completion in code (`sitrep.assemble`) → records with provenance

A draft that fails parsing or a check is re-asked through instructor's re-ask handler, which
appends the model's answer and the precise problems to the conversation; that loop has its own
small budget (`ModelConfig.reask_budget`) and never sees transport faults.

The request's tool definition (or response format) is built once per `Extractor`, not per call:
building it costs more CPU than sending the request.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx2
import instructor
import openai
import pydantic
from instructor.core.exceptions import ResponseParsingError
from instructor.v2 import mode_registry
from instructor.v2.core.registry import ModeHandlers
from instructor.v2.providers.openai.schema import generate_openai_schema
from openai import RequestOptions
from openai.types.chat import ChatCompletion

from sitrep import __version__
from sitrep.article import Article
from sitrep.assemble import DraftRejectedError, assemble
from sitrep.drafts import DraftExtraction
from sitrep.errors import (
    ArticleError,
    ConfigurationError,
    InvalidOutputError,
    RefusalError,
    TruncatedOutputError,
)
from sitrep.prompts import TOOL_NAME, PromptSet, load_prompts
from sitrep.records import Extraction, Provenance, TokenUsage
from sitrep.schemas import schema_version
from sitrep.transport import RetryPolicy, async_retrying, sync_retrying, translate

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Some 15,000 tokens: room for any news article in every current model's context, with the
# prompt, and a guard against whole books or scraped page dumps.
MAX_ARTICLE_CHARS = 60_000

# Requests are posted as they are built: already plain JSON, from a static part made once
# (`_static_request`) and the article's messages. `chat.completions.create()` would first walk
# every request against the SDK's parameter types, which changes nothing here and cost 1.6 ms
# of CPU a request on the benchmark machine (BENCHMARKS.md); the path, the response type and
# the auth are what it would use.
_CHAT_COMPLETIONS = "/chat/completions"
_POST_OPTIONS: RequestOptions = {"security": {"bearer_auth": True}}


class OutputMode(StrEnum):
    """How the model is made to answer in the draft's schema."""

    TOOLS = "tools"  # a forced function call: the widest support among compatible servers
    JSON_SCHEMA = "json_schema"  # strict structured output (response_format json_schema)


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


_INSTRUCTOR_MODES = {
    OutputMode.TOOLS: instructor.Mode.TOOLS,
    OutputMode.JSON_SCHEMA: instructor.Mode.JSON_SCHEMA,
}
_PARSE_ERRORS = (pydantic.ValidationError, json.JSONDecodeError, ResponseParsingError)


class Extractor:
    """Extracts incidents and statistics from articles with one model configuration.

    Build one and reuse it: it holds the HTTP clients and the prepared request.
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        api_key: str,
        prompts: PromptSet | None = None,
        http_client: httpx2.Client | None = None,
        async_http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        if not api_key:
            raise ConfigurationError(
                "an API key is required (any non-empty string for a server that does not check it)"
            )
        self.config = config
        self.prompts = prompts or load_prompts()
        mode = _INSTRUCTOR_MODES[config.mode]
        self._handlers = mode_registry.get_handlers(instructor.Provider.OPENAI, mode)
        self._request = _static_request(config)
        # max_retries=0: transport retries belong to sitrep.transport alone.
        client_options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": config.base_url,
            "timeout": config.request_timeout,
            "max_retries": 0,
        }
        self._client = openai.OpenAI(**client_options, http_client=http_client)
        self._async_client = openai.AsyncOpenAI(**client_options, http_client=async_http_client)

    def extract(self, article: Article) -> Extraction:
        """Extract one article, blocking. Raises an `ExtractionError` or `ArticleError`."""
        conversation = self._start(article)
        while True:
            result = conversation.receive(self._send(conversation))
            if result is not None:
                return result

    async def aextract(self, article: Article) -> Extraction:
        """Extract one article without blocking the event loop."""
        conversation = self._start(article)
        while True:
            result = conversation.receive(await self._asend(conversation))
            if result is not None:
                return result

    def _send(self, conversation: _Conversation) -> ChatCompletion:
        """One request, retried through transport faults only."""
        try:
            for attempt in sync_retrying(self.config.retry):
                with attempt:
                    return self._client.post(
                        _CHAT_COMPLETIONS,
                        cast_to=ChatCompletion,
                        body=conversation.kwargs,
                        options=_POST_OPTIONS,
                    )
        except openai.OpenAIError as exc:
            raise translate(exc, **conversation.spent()) from exc
        raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover

    async def _asend(self, conversation: _Conversation) -> ChatCompletion:
        try:
            async for attempt in async_retrying(self.config.retry):
                with attempt:
                    return await self._async_client.post(
                        _CHAT_COMPLETIONS,
                        cast_to=ChatCompletion,
                        body=conversation.kwargs,
                        options=_POST_OPTIONS,
                    )
        except openai.OpenAIError as exc:
            raise translate(exc, **conversation.spent()) from exc
        raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        await self._async_client.close()

    def request_for(self, article: Article) -> dict[str, Any]:
        """The chat completion request's arguments for `article`, as they will be sent."""
        if len(article.text) > self.config.max_article_chars:
            raise ArticleError(
                f"article {article.id} has {len(article.text):,} characters, more than the "
                f"{self.config.max_article_chars:,} allowed (ModelConfig.max_article_chars); "
                "split it, or raise the limit if the model's context allows"
            )
        return {**self._request, "messages": self.prompts.messages(article)}

    @functools.cached_property
    def fixed_request_chars(self) -> int:
        """Characters every request carries whatever the article: for estimates before sending."""
        return len(json.dumps(self._request)) + len(self.prompts.system)

    def _start(self, article: Article) -> _Conversation:
        kwargs = self.request_for(article)
        return _Conversation(self.config, self._handlers, self.prompts.version, article, kwargs)


def _static_request(config: ModelConfig) -> dict[str, Any]:
    """Everything in a request that does not depend on the article, built once."""
    request: dict[str, Any] = {
        "model": config.model,
        "max_completion_tokens": config.max_output_tokens,
    }
    if config.temperature is not None:
        request["temperature"] = config.temperature
    schema = draft_schema()
    if config.mode is OutputMode.TOOLS:
        request["tools"] = [{"type": "function", "function": schema}]
        request["tool_choice"] = {"type": "function", "function": {"name": TOOL_NAME}}
    else:
        request["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": TOOL_NAME,
                "description": schema["description"],
                "schema": schema["parameters"],
                "strict": True,
            },
        }
    return request


def draft_schema() -> dict[str, Any]:
    """The function definition the model is asked to call, from instructor's schema builder."""
    return dict(generate_openai_schema(DraftExtraction))


class _Conversation:
    """One article's exchange with the model, across re-asks."""

    def __init__(
        self,
        config: ModelConfig,
        handlers: ModeHandlers,
        prompt_version: str,
        article: Article,
        kwargs: dict[str, Any],
    ) -> None:
        self._config = config
        self._handlers = handlers
        self._prompt_version = prompt_version
        self.article = article
        self.kwargs = kwargs
        self.usage = TokenUsage()
        self.request_ids: list[str] = []
        self.reasks = 0

    def spent(self) -> dict[str, Any]:
        return {"usage": self.usage, "request_ids": list(self.request_ids)}

    def receive(self, completion: ChatCompletion) -> Extraction | None:
        """Records if the answer passes; None after arranging a re-ask; raises otherwise."""
        self._account(completion)
        self._reject_unusable(completion)
        try:
            draft = self._handlers.response_parser(
                response=completion,
                response_model=DraftExtraction,
                validation_context=None,
                strict=False,
                stream=False,
                is_async=False,
            )
            return assemble(draft, self.article, self._provenance())
        except (*_PARSE_ERRORS, DraftRejectedError) as exc:
            if self.reasks >= self._config.reask_budget:
                raise InvalidOutputError(
                    f"output still invalid after {self.reasks} re-ask(s): {_first_line(exc)}",
                    problems=_problems(exc),
                    **self.spent(),
                ) from exc
            self.reasks += 1
            self.kwargs = self._handlers.reask_handler(
                kwargs=self.kwargs, response=completion, exception=exc
            )
            return None

    def _account(self, completion: ChatCompletion) -> None:
        if completion.usage is not None:
            self.usage = self.usage + TokenUsage(
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
                total_tokens=completion.usage.total_tokens,
            )
        self.request_ids.append(completion._request_id or completion.id)

    def _reject_unusable(self, completion: ChatCompletion) -> None:
        """Answers that no re-ask can mend: refusals and truncation."""
        if not completion.choices:
            return  # the parser reports it, and a re-ask may mend it
        choice = completion.choices[0]
        if choice.message.refusal:
            raise RefusalError(f"the model refused: {choice.message.refusal}", **self.spent())
        if choice.finish_reason == "content_filter":
            raise RefusalError("the endpoint's content filter stopped the answer", **self.spent())
        if choice.finish_reason == "length":
            raise TruncatedOutputError(
                f"the answer was cut off at {self._config.max_output_tokens} output "
                "tokens (finish_reason 'length'); raise ModelConfig.max_output_tokens",
                **self.spent(),
            )

    def _provenance(self) -> Provenance:
        return Provenance(
            article_id=self.article.id,
            model=self._config.model,
            prompt_version=self._prompt_version,
            schema_version=schema_version(),
            request_ids=list(self.request_ids),
            usage=self.usage,
            reasks=self.reasks,
            extracted_at=datetime.now(UTC),
            sitrep_version=__version__,
        )


def _problems(exc: Exception) -> list[str]:
    if isinstance(exc, DraftRejectedError):
        return exc.problems
    if isinstance(exc, pydantic.ValidationError):
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return [str(exc)]


def _first_line(exc: Exception) -> str:
    problems = _problems(exc)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more if problems else type(exc).__name__
