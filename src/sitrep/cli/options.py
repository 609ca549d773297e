"""The options every command that talks to a model shares, gathered into one `ModelConfig`,
and the key it is sent with. Their defaults come from the settings themselves."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from sitrep.errors import ConfigurationError
from sitrep.settings import (
    DEFAULT_MODEL,
    MIN_CHUNK_CHARS,
    ModelConfig,
    OutputCapField,
    OutputMode,
    PromptProfile,
    ReaskStyle,
)

_MODEL_DEFAULTS = ModelConfig(model=DEFAULT_MODEL)
# Replay never sends a request, so no real key is needed or used.
_REPLAY_KEY = "sk-replay-no-key"
# What is sent as the key to a server other than OpenAI's when none is set: the SDK needs one.
_NO_KEY = "sk-no-key"


def model_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options every command that talks to a model shares, handed to the command as one
    `config: ModelConfig` (and `replay`)."""
    options = [
        click.option(
            "--model",
            envvar="SITREP_MODEL",
            default=DEFAULT_MODEL,
            show_default=True,
            help="Model name [env: SITREP_MODEL].",
        ),
        click.option(
            "--base-url",
            envvar="OPENAI_BASE_URL",
            default=_MODEL_DEFAULTS.base_url,
            show_default=True,
            help="Any OpenAI-compatible endpoint [env: OPENAI_BASE_URL].",
        ),
        click.option(
            "--mode",
            type=click.Choice([m.value for m in OutputMode]),
            default=_MODEL_DEFAULTS.mode.value,
            show_default=True,
            help="tools: a forced function call; json_schema: strict structured output; "
            "json_object: any JSON, the schema in the prompt (for servers that refuse "
            "json_schema).",
        ),
        click.option(
            "--prompt-profile",
            type=click.Choice([p.value for p in PromptProfile]),
            default=_MODEL_DEFAULTS.prompt_profile.value,
            show_default=True,
            help="full: every rule and two worked examples; compact: the rules in brief, for "
            "small context windows.",
        ),
        click.option(
            "--max-output-tokens",
            type=click.IntRange(1),
            default=_MODEL_DEFAULTS.max_output_tokens,
            show_default=True,
            help="Cap on the tokens of one answer.",
        ),
        click.option(
            "--output-cap-field",
            type=click.Choice([f.value for f in OutputCapField]),
            default=_MODEL_DEFAULTS.output_cap_field.value,
            show_default=True,
            help="The request field that carries the cap; auto: max_completion_tokens for "
            "OpenAI, max_tokens for other servers.",
        ),
        click.option(
            "--context-window",
            type=click.IntRange(1),
            help="The model's context window in tokens; requests that cannot fit are not "
            "sent. Known for OpenAI's models.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(0, min_open=True),
            help="Seconds to wait for one answer [default: 120 for OpenAI, 600 for other "
            "servers]. A request that timed out is sent again only to OpenAI: another server "
            "may still be computing it.",
        ),
        click.option(
            "--reask-budget",
            type=click.IntRange(0, 10),
            default=_MODEL_DEFAULTS.reask_budget,
            show_default=True,
            help="Re-asks after invalid output.",
        ),
        click.option(
            "--reask-as",
            type=click.Choice([r.value for r in ReaskStyle]),
            default=_MODEL_DEFAULTS.reask_style.value,
            show_default=True,
            help="How problems go back after an invalid function call: tool (a tool message) "
            "or user (for servers whose chat templates drop tool messages); auto: tool for "
            "OpenAI, user for other servers.",
        ),
        click.option(
            "--max-article-chars",
            type=click.IntRange(1),
            default=_MODEL_DEFAULTS.max_article_chars,
            show_default=True,
            help="A ceiling against runaway cost: longer articles fail with that reason instead "
            "of being sent. Shorter ones too long for one request are sent in chunks.",
        ),
        click.option(
            "--chunk-chars",
            type=click.IntRange(MIN_CHUNK_CHARS),
            default=_MODEL_DEFAULTS.chunk_chars,
            show_default=True,
            help="Most article text per request (less if the context window leaves less); a "
            "longer article goes in overlapping chunks, their records joined.",
        ),
        click.option(
            "--chunk-overlap",
            type=click.IntRange(0),
            default=_MODEL_DEFAULTS.chunk_overlap,
            show_default=True,
            help="Characters neighbouring chunks share, at most a quarter of --chunk-chars.",
        ),
        click.option(
            "--prompt-cache-key",
            default=_MODEL_DEFAULTS.prompt_cache_key,
            metavar="KEY",
            help="Send OpenAI's prompt_cache_key with every request, so that requests sharing "
            "the static prefix go to the same prompt cache; 'auto' derives the key from the "
            "model and the prompt version. Not every compatible server accepts the field: "
            "leave it out for those. Off unless given.",
        ),
        click.option(
            "--replay",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Answer from the recorded responses in this directory; nothing is sent.",
        ),
    ]

    @functools.wraps(command)
    def with_config(**kwargs: Any) -> None:
        settings = {name: kwargs.pop(name) for name in _MODEL_OPTIONS}
        command(config=_config(**settings), **kwargs)

    wrapped: Callable[..., None] = with_config
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


_MODEL_OPTIONS = (
    "model",
    "base_url",
    "mode",
    "prompt_profile",
    "max_output_tokens",
    "output_cap_field",
    "context_window",
    "timeout",
    "reask_budget",
    "reask_as",
    "max_article_chars",
    "chunk_chars",
    "chunk_overlap",
    "prompt_cache_key",
)


def _config(
    *,
    model: str,
    base_url: str,
    mode: str,
    prompt_profile: str,
    max_output_tokens: int,
    output_cap_field: str,
    context_window: int | None,
    timeout: float | None,
    reask_budget: int,
    reask_as: str,
    max_article_chars: int,
    chunk_chars: int,
    chunk_overlap: int,
    prompt_cache_key: str | None,
) -> ModelConfig:
    try:
        return ModelConfig(
            model=model,
            base_url=base_url,
            mode=OutputMode(mode),
            prompt_profile=PromptProfile(prompt_profile),
            max_output_tokens=max_output_tokens,
            output_cap_field=OutputCapField(output_cap_field),
            context_window=context_window,
            request_timeout=timeout,
            reask_budget=reask_budget,
            reask_style=ReaskStyle(reask_as),
            max_article_chars=max_article_chars,
            chunk_chars=chunk_chars,
            chunk_overlap=chunk_overlap,
            prompt_cache_key=prompt_cache_key,
        )
    except ConfigurationError as exc:
        fail(str(exc), code=2)


def api_key_for(replay: Path | None, config: ModelConfig) -> str:
    if replay is not None:
        return _REPLAY_KEY
    api_key = os.environ.get("OPENAI_API_KEY", "")
    if not api_key and config.is_openai:
        fail(
            "OPENAI_API_KEY is not set. Set it to your key, point --base-url at a server that "
            "needs none, or use --replay DIR to answer from recordings.",
            code=2,
        )
    return api_key or _NO_KEY  # a local server that checks no key needs none


def fail(message: str, *, code: int) -> NoReturn:
    """Say what is wrong on stderr and exit with `code` (see `sitrep.cli.commands`)."""
    click.echo(f"sitrep: error: {message}", err=True)
    sys.exit(code)
