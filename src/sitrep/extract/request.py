"""The request builder: an article in, the exact chat completion request body out.

Everything that does not depend on the article (model, limits, the tool definition or response
format with the draft's schema, the system prompt) is built once per builder; building the
schema costs more CPU than sending a request. Each request is that static part plus the
article's messages, the static prefix first, so that endpoints can serve it from their prompt
cache. Any sender can post what `build` returns: the interactive one (`sitrep.wire.sender`), or
one that writes requests to a file.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from typing import Any

from sitrep.errors import ArticleError, ConfigurationError, ContextOverflowError
from sitrep.extract.instructor_api import function_schema
from sitrep.extract.prompts import TOOL_NAME, PromptSet, default_prompt_dir, load_prompts
from sitrep.model.article import Article
from sitrep.model.drafts import DraftExtraction
from sitrep.model.usage import CHARS_PER_TOKEN
from sitrep.settings import ModelConfig, OutputMode

# Tokens a chat template adds around each message (role markers, separators), roughly.
MESSAGE_OVERHEAD_TOKENS = 4


class RequestBuilder:
    """Builds the request bodies for one model configuration and prompt set.

    When the model's context window is known (`ModelConfig.context_tokens`), a request that
    cannot fit it is refused before it is sent: the prompt alone at construction (a
    `ConfigurationError`), an article's request in `build` (an `ArticleError`). Tokens are
    estimated from characters (`sitrep.model.usage.CHARS_PER_TOKEN`), not counted with the
    model's tokenizer, so the check catches requests that are clearly too long.
    """

    def __init__(self, config: ModelConfig, prompts: PromptSet | None = None) -> None:
        self.config = config
        self.prompts = prompts or load_prompts(default_prompt_dir(config.prompt_profile))
        self._static = _static_request(config)
        if config.mode is OutputMode.JSON_OBJECT:
            self._system = self.prompts.system_with_schema(draft_schema()["parameters"])
        else:
            self._system = self.prompts.system
        self._check_prompt_fits()

    @property
    def static(self) -> dict[str, Any]:
        """A copy of every field of a request but its messages, the same for every article."""
        return copy.deepcopy(self._static)

    @property
    def system(self) -> str:
        """The system message every request starts with."""
        return self._system

    def build(self, article: Article) -> dict[str, Any]:
        """The request body for `article`; raises `ArticleError` if it is too long to send."""
        if len(article.text) > self.config.max_article_chars:
            raise ArticleError(
                f"article {article.id} has {len(article.text):,} characters, more than the "
                f"{self.config.max_article_chars:,} allowed (ModelConfig.max_article_chars); "
                "split it, or raise the limit if the model's context allows"
            )
        user = self.prompts.user_message(article)
        request = {**self._static, "messages": [{"role": "system", "content": self._system}, user]}
        # The estimate of estimate_request_tokens, its fixed part counted once per builder.
        needed = _tokens(self._fixed_estimate_chars + len(user["content"]), messages=2)
        if (overflow := _overflow(needed, self.config)) is not None:
            raise ContextOverflowError(f"article {article.id}: {overflow}")
        return request

    @functools.cached_property
    def _fixed_estimate_chars(self) -> int:
        return _schema_chars(self._static) + len(self._system)

    @functools.cached_property
    def fixed_chars(self) -> int:
        """Characters every request carries whatever the article: for estimates before sending."""
        return len(json.dumps(self._static)) + len(self._system)

    def _check_prompt_fits(self) -> None:
        bare = {**self._static, "messages": [{"role": "system", "content": self._system}]}
        if (overflow := context_overflow(bare, self.config)) is not None:
            raise ConfigurationError(f"before any article, {overflow}")


def context_overflow(request: Mapping[str, Any], config: ModelConfig) -> str | None:
    """Why `request` cannot fit the model's context window, or None if it can (or the window
    is not known)."""
    if config.context_tokens is None:
        return None
    return _overflow(estimate_request_tokens(request), config)


def _overflow(needed: int, config: ModelConfig) -> str | None:
    window = config.context_tokens
    if window is None:
        return None
    cap = config.max_output_tokens
    if needed + cap <= window:
        return None
    return (
        f"the request needs about {needed:,} prompt tokens (estimated) and {cap:,} output "
        f"tokens, more than the model's context window of {window:,} tokens: use the compact "
        "prompt profile, lower max_output_tokens, or give the true window if it is larger"
    )


def estimate_request_tokens(request: Mapping[str, Any]) -> int:
    """Prompt tokens of `request`, estimated: every message's text and the schema it carries."""
    messages = request.get("messages", [])
    chars = _schema_chars(request) + sum(len(_message_text(m)) for m in messages)
    return _tokens(chars, messages=len(messages))


def _schema_chars(request: Mapping[str, Any]) -> int:
    schema = {key: request[key] for key in ("tools", "response_format") if key in request}
    return len(json.dumps(schema))


def _tokens(chars: int, *, messages: int) -> int:
    return max(chars // CHARS_PER_TOKEN, 1) + MESSAGE_OVERHEAD_TOKENS * messages


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    for call in message.get("tool_calls") or ():
        text += json.dumps(call.get("function", {}))
    return text


def draft_schema() -> dict[str, Any]:
    """The function definition the model is asked to call."""
    return function_schema(DraftExtraction)


def _static_request(config: ModelConfig) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": config.model,
        config.cap_field.value: config.max_output_tokens,
    }
    if config.temperature is not None:
        request["temperature"] = config.temperature
    schema = draft_schema()
    if config.mode is OutputMode.TOOLS:
        request["tools"] = [{"type": "function", "function": schema}]
        request["tool_choice"] = {"type": "function", "function": {"name": TOOL_NAME}}
    elif config.mode is OutputMode.JSON_OBJECT:
        request["response_format"] = {"type": "json_object"}  # the schema is in the prompt
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
