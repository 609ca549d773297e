"""The request builder: an article in, the exact chat completion request body out.

Everything that does not depend on the article (model, limits, the tool definition or response
format with the draft's schema, the system prompt) is built once per builder; building the
schema costs more CPU than sending a request. Each request is that static part plus the
article's messages, the static prefix first, so that endpoints can serve it from their prompt
cache. Any sender can post what `build` returns: the interactive one (`sitrep.wire.sender`), or
one that writes requests to a file.

An article longer than one request can carry is sent in overlapping chunks (`chunks`, by
`sitrep.text.chunks`), one request each (`build(article, chunk)`): at most
`ModelConfig.chunk_chars` characters of text a request, and fewer when the context window leaves
less room beside the prompt and the output cap. An article that fits is one chunk, the whole
text, and its request is the same as if there were no chunking at all.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from sitrep.errors import ArticleError, ConfigurationError, ContextOverflowError
from sitrep.extract.instructor_api import function_schema
from sitrep.extract.prompts import TOOL_NAME, PromptSet, default_prompt_dir, load_prompts
from sitrep.model.article import Article
from sitrep.model.drafts import DraftExtraction
from sitrep.model.usage import CHARS_PER_TOKEN
from sitrep.settings import PROMPT_CACHE_KEY_AUTO, ModelConfig, OutputMode
from sitrep.text.chunks import Chunk, split_text

# Tokens a chat template adds around each message (role markers, separators), roughly.
MESSAGE_OVERHEAD_TOKENS = 4
# Publication dates whose message frame is remembered: some years of an archive's days.
_FRAMES_KEPT = 4096


class RequestBuilder:
    """Builds the request bodies for one model configuration and prompt set.

    When the model's context window is known (`ModelConfig.context_tokens`), a request that
    cannot fit it is refused before it is sent: the prompt alone at construction (a
    `ConfigurationError`), an article's request in `build` (an `ArticleError`). Tokens are
    estimated from characters (`sitrep.model.usage.CHARS_PER_TOKEN`), not counted with the
    model's tokenizer, so the check catches requests that are clearly too long. The chunks of
    `chunks` are sized by the same estimate, so that each chunk's request fits.
    """

    def __init__(self, config: ModelConfig, prompts: PromptSet | None = None) -> None:
        self.config = config
        self.prompts = prompts or load_prompts(default_prompt_dir(config.prompt_profile))
        self._static = _static_request(config, self._cache_key())
        if config.mode is OutputMode.JSON_OBJECT:
            self._system = self.prompts.system_with_schema(draft_schema()["parameters"])
        else:
            self._system = self.prompts.system
        self._check_prompt_fits()
        self._frames: dict[date | None, int] = {}

    @property
    def static(self) -> dict[str, Any]:
        """A copy of every field of a request but its messages, the same for every article."""
        return copy.deepcopy(self._static)

    @property
    def system(self) -> str:
        """The system message every request starts with."""
        return self._system

    def _cache_key(self) -> str | None:
        key = self.config.prompt_cache_key
        if key != PROMPT_CACHE_KEY_AUTO:
            return key
        named = f"{self.config.model}\n{self.config.mode}\n{self.prompts.version}"
        return "sitrep-" + hashlib.sha256(named.encode()).hexdigest()[:16]

    @functools.cached_property
    def user_prefix(self) -> str:
        """The start of every article's user message, before anything of the article (its
        date comes first): with the static fields and the system message, the prefix of
        every request's body that a prompt cache can serve."""
        marker = "\x00"
        rendered = self.prompts.user.render(published=marker, text=marker, part=None)
        return rendered[: rendered.index(marker)]

    def build(self, article: Article, chunk: Chunk | None = None) -> dict[str, Any]:
        """The request body for `article`, or for one of its `chunks`; raises `ArticleError` if
        it is too long to send."""
        self._check_length(article)
        user = self.prompts.user_message(article, chunk)
        request = {**self._static, "messages": [{"role": "system", "content": self._system}, user]}
        # The estimate of estimate_request_tokens, its fixed part counted once per builder.
        needed = _tokens(self._fixed_estimate_chars + len(user["content"]), messages=2)
        if (overflow := _overflow(needed, self.config)) is not None:
            raise ContextOverflowError(f"article {article.id}: {overflow}")
        return request

    def chunks(self, article: Article) -> list[Chunk]:
        """How `article` is sent: one chunk, the whole text, when one request carries it
        (`ModelConfig.chunk_chars` characters at most, and within the context window); else
        overlapping chunks of `chunk_chars(article)` characters at most, neighbours sharing up to
        `ModelConfig.chunk_overlap` (a quarter of a chunk at most). Raises `ArticleError` past
        `ModelConfig.max_article_chars`, and `ContextOverflowError` when the context window has
        no room for any chunk of it."""
        self._check_length(article)
        if len(article.text) <= self.config.chunk_chars and self._fits(article):
            return [Chunk(1, 1, 0, len(article.text))]
        return split_text(article.text, self.chunk_chars(article), self.config.chunk_overlap)

    def chunk_chars(self, article: Article) -> int:
        """The most text of `article` one chunk's request carries: `ModelConfig.chunk_chars`,
        or what the context window leaves beside the prompt, the output cap and the notice that
        says which part a chunk is."""
        window = self.config.context_tokens
        if window is None:
            return self.config.chunk_chars
        room = self._room(window) - self._frame(article)
        if room < 1:
            raise ContextOverflowError(
                f"article {article.id} is too long for one request, and the model's context "
                f"window of {window:,} tokens leaves no room for a chunk of it beside the prompt "
                f"and {self.config.max_output_tokens:,} output tokens: use the compact prompt "
                "profile, lower max_output_tokens, or give the true window if it is larger"
            )
        return min(self.config.chunk_chars, room)

    def _fits(self, article: Article) -> bool:
        """Whether the request for the whole of `article` fits the context window."""
        window = self.config.context_tokens
        if window is None:
            return True
        room = self._room(window)
        # Escaping a closing tag adds at most one character to it, and each holds a "<": this
        # bound spares rendering the article's message to size it; near the limit, it is sized.
        if self._frame(article) + len(article.text) + article.text.count("<") <= room:
            return True
        content = self.prompts.user_message(article)["content"]
        needed = _tokens(self._fixed_estimate_chars + len(content), messages=2)
        return _overflow(needed, self.config) is None  # exactly as `build` will count it

    def _room(self, window: int) -> int:
        """Characters of user message a request can carry within `window`, by the estimate."""
        tokens = window - self.config.max_output_tokens - MESSAGE_OVERHEAD_TOKENS * 2
        return tokens * CHARS_PER_TOKEN - self._fixed_estimate_chars

    def _frame(self, article: Article) -> int:
        """Characters of `article`'s user message besides its text, at the most: those of an
        empty chunk's message with the widest part notice. They differ only by the date."""
        size = self._frames.get(article.published)
        if size is None:
            empty = Chunk(99_999, 99_999, 0, 0)
            size = len(self.prompts.user_message(article, empty)["content"])
            if len(self._frames) < _FRAMES_KEPT:
                self._frames[article.published] = size
        return size

    def _check_length(self, article: Article) -> None:
        if len(article.text) > self.config.max_article_chars:
            raise ArticleError(
                f"article {article.id} has {len(article.text):,} characters, more than the "
                f"{self.config.max_article_chars:,} allowed (ModelConfig.max_article_chars, a "
                "ceiling against runaway cost); raise it to extract the article in chunks"
            )

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


def _static_request(config: ModelConfig, cache_key: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": config.model,
        config.cap_field.value: config.max_output_tokens,
    }
    if config.temperature is not None:
        request["temperature"] = config.temperature
    if cache_key is not None:  # never sent unless asked for: not every server accepts it
        request["prompt_cache_key"] = cache_key
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
