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
from typing import Any

from sitrep.errors import ArticleError
from sitrep.extract.instructor_api import function_schema
from sitrep.extract.prompts import TOOL_NAME, PromptSet, load_prompts
from sitrep.model.article import Article
from sitrep.model.drafts import DraftExtraction
from sitrep.settings import ModelConfig, OutputMode


class RequestBuilder:
    """Builds the request bodies for one model configuration and prompt set."""

    def __init__(self, config: ModelConfig, prompts: PromptSet | None = None) -> None:
        self.config = config
        self.prompts = prompts or load_prompts()
        self._static = _static_request(config)

    @property
    def static(self) -> dict[str, Any]:
        """A copy of every field of a request but its messages, the same for every article."""
        return copy.deepcopy(self._static)

    def build(self, article: Article) -> dict[str, Any]:
        """The request body for `article`; raises `ArticleError` if it is too long to send."""
        if len(article.text) > self.config.max_article_chars:
            raise ArticleError(
                f"article {article.id} has {len(article.text):,} characters, more than the "
                f"{self.config.max_article_chars:,} allowed (ModelConfig.max_article_chars); "
                "split it, or raise the limit if the model's context allows"
            )
        return {**self._static, "messages": self.prompts.messages(article)}

    @functools.cached_property
    def fixed_chars(self) -> int:
        """Characters every request carries whatever the article: for estimates before sending."""
        return len(json.dumps(self._static)) + len(self.prompts.system)


def draft_schema() -> dict[str, Any]:
    """The function definition the model is asked to call."""
    return function_schema(DraftExtraction)


def _static_request(config: ModelConfig) -> dict[str, Any]:
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
