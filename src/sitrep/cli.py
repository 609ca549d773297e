"""The `sitrep` command. The only module that reads the environment, prints or exits.

Exit codes: 0 done; 1 the model call failed; 2 bad usage or configuration; 3 the article cannot
be processed.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click

from sitrep import __version__
from sitrep.article import Article
from sitrep.errors import ArticleError, ConfigurationError, ExtractionError, ReplayError
from sitrep.extractor import OPENAI_BASE_URL, Extractor, ModelConfig, OutputMode
from sitrep.replay import replay_clients
from sitrep.schemas import write_schemas

DEFAULT_MODEL = "gpt-4.1-mini"
# Replay never sends a request, so no real key is needed or used.
_REPLAY_KEY = "sk-replay-no-key"


@click.group()
@click.version_option(__version__, prog_name="sitrep")
@click.option("-v", "--verbose", is_flag=True, help="Log retries and re-asks to stderr.")
def main(verbose: bool) -> None:
    """Turn news articles into typed incident and statistics records."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--published",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Publication date (YYYY-MM-DD); overrides a leading `date` line in FILE.",
)
@click.option(
    "--model",
    envvar="SITREP_MODEL",
    default=DEFAULT_MODEL,
    show_default=True,
    help="Model name [env: SITREP_MODEL].",
)
@click.option(
    "--base-url",
    envvar="OPENAI_BASE_URL",
    default=OPENAI_BASE_URL,
    show_default=True,
    help="Any OpenAI-compatible endpoint [env: OPENAI_BASE_URL].",
)
@click.option(
    "--mode",
    type=click.Choice([m.value for m in OutputMode]),
    default=OutputMode.TOOLS.value,
    show_default=True,
    help="tools: a forced function call; json_schema: strict structured output.",
)
@click.option("--reask-budget", type=click.IntRange(0, 10), default=2, show_default=True)
@click.option(
    "--replay",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Answer from the recorded responses in this directory; nothing is sent.",
)
def extract(
    file: Path,
    published: datetime | None,
    model: str,
    base_url: str,
    mode: str,
    reask_budget: int,
    replay: Path | None,
) -> None:
    """Extract one article and print its records as JSON.

    The API key is read from OPENAI_API_KEY (not needed with --replay).
    """
    day = published.date() if published is not None else None
    try:
        article = Article.from_file(file, published=day)
    except ArticleError as exc:
        _fail(str(exc), code=3)
    try:
        config = ModelConfig(
            model=model, base_url=base_url, mode=OutputMode(mode), reask_budget=reask_budget
        )
        extractor = _extractor(config, replay)
    except (ConfigurationError, ReplayError) as exc:
        _fail(str(exc), code=2)
    try:
        result = extractor.extract(article)
    except ArticleError as exc:
        _fail(str(exc), code=3)
    except (ExtractionError, ReplayError) as exc:
        _fail(f"{file}: {exc}", code=1)
    finally:
        extractor.close()
    click.echo(result.model_dump_json(indent=2))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schemas(directory: Path) -> None:
    """Write the JSON Schemas of the records to DIRECTORY."""
    for path in write_schemas(directory):
        click.echo(str(path))


def _extractor(config: ModelConfig, replay: Path | None) -> Extractor:
    if replay is not None:
        sync_client, async_client = replay_clients(replay)
        return Extractor(
            config, api_key=_REPLAY_KEY, http_client=sync_client, async_http_client=async_client
        )
    api_key = os.environ.get("OPENAI_API_KEY", "")
    if not api_key:
        raise ConfigurationError(
            "OPENAI_API_KEY is not set. Set it to your key (any non-empty value for a local "
            "server that does not check keys), or use --replay DIR to answer from recordings."
        )
    return Extractor(config, api_key=api_key)


def _fail(message: str, *, code: int) -> NoReturn:
    click.echo(f"sitrep: error: {message}", err=True)
    sys.exit(code)
