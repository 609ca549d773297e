"""The `sitrep` commands. The command line (this module, `options` and `display`) is the only
code that reads the environment, prints or exits.

Exit codes: 0 done; 1 the model call failed, or a batch could not write its output directory;
2 bad usage or configuration; 3 the article cannot be processed; 4 a batch stopped early with
articles left pending; 130 interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import httpx2
from rich.console import Console

from sitrep._version import __version__
from sitrep.cli.batches import (
    batch_options_from,
    batch_run_options,
    batches_command,
    run_through_batch_api,
)
from sitrep.cli.display import ProgressDisplay, plan_table, section_table, summary_table
from sitrep.cli.options import api_key_for, fail, model_options
from sitrep.cli.running import run_until_stopped
from sitrep.errors import (
    ArticleError,
    ConfigurationError,
    EvaluationError,
    ExtractionError,
    MergeError,
    OutputError,
    ReplayError,
)
from sitrep.evaluate.align import DEFAULT_THRESHOLD
from sitrep.evaluate.gold import load_gold, load_run
from sitrep.evaluate.report import ReportFormat, render_json, render_markdown, sections
from sitrep.evaluate.score import DEFAULT_WORST, evaluate_run
from sitrep.export.events import EVENT_FORMATS, export_events
from sitrep.export.tables import ExportFormat, export
from sitrep.extract.extractor import Extractor
from sitrep.merge.rules import DEFAULT_WINDOW, Tolerances
from sitrep.merge.store import explain, merge_run
from sitrep.model.article import Article
from sitrep.model.schemas import write_schemas
from sitrep.report.page import write_report
from sitrep.run.budget import load_prices, price_for
from sitrep.run.plan import plan_batch
from sitrep.run.readers import count_inputs, read_archives
from sitrep.run.scheduler import BatchProgress, BatchSummary, run_batch
from sitrep.settings import (
    DEFAULT_PRICES,
    BatchOptions,
    ModelConfig,
)
from sitrep.wire.replay import AsyncReplayTransport, Recordings, replay_clients

# The defaults of every option come from the settings themselves.
_BATCH_DEFAULTS = BatchOptions()


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
@model_options
def extract(
    file: Path,
    published: datetime | None,
    config: ModelConfig,
    replay: Path | None,
) -> None:
    """Extract one article and print its records as JSON.

    The API key is read from OPENAI_API_KEY (not needed with --replay).
    """
    day = published.date() if published is not None else None
    try:
        article = Article.from_file(file, published=day)
    except ArticleError as exc:
        fail(str(exc), code=3)
    api_key = api_key_for(replay, config)
    try:
        if replay is not None:
            sync_client, async_client = replay_clients(replay)
            extractor = Extractor(
                config, api_key=api_key, http_client=sync_client, async_http_client=async_client
            )
        else:
            extractor = Extractor(config, api_key=api_key)
    except (ConfigurationError, ReplayError) as exc:
        fail(str(exc), code=2)
    try:
        result = extractor.extract(article)
    except ArticleError as exc:
        fail(str(exc), code=3)
    except (ExtractionError, ReplayError) as exc:
        fail(f"{file}: {exc}", code=1)
    finally:
        extractor.close()
    click.echo(result.model_dump_json(indent=2))


@main.command()
@click.argument("archives", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory: records, failures and the ledger that makes runs resumable.",
)
@model_options
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=_BATCH_DEFAULTS.concurrency,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option("--rpm", type=click.IntRange(1), help="Requests per minute the endpoint allows.")
@click.option("--tpm", type=click.IntRange(1), help="Tokens per minute the endpoint allows.")
@click.option("--max-cost", type=click.FloatRange(0), help="Start no article past this many US$.")
@click.option(
    "--prices",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON price table: {"model": {"input": $/1M tokens, "output": $/1M tokens}}.',
)
@click.option("--retry-failed", is_flag=True, help="Try articles that failed before again.")
@click.option("--dry-run", is_flag=True, help="Count articles, tokens and cost; send nothing.")
@click.option(
    "--batch-api",
    is_flag=True,
    help="Send the requests through the OpenAI Batch API at batch prices: submitted as batch "
    "files, collected when they finish (up to 24 h).",
)
@batch_run_options
@click.option("--no-cache", is_flag=True, help="Do not answer identical requests from earlier.")
@click.option(
    "--read-workers",
    type=click.IntRange(1, 256),
    default=_BATCH_DEFAULTS.read_workers,
    show_default="one a core, up to 4",
    help="Processes that reduce web pages and WARC responses to their article; 1: in this one.",
)
def run(
    archives: tuple[Path, ...],
    out_dir: Path,
    config: ModelConfig,
    replay: Path | None,
    concurrency: int,
    rpm: int | None,
    tpm: int | None,
    max_cost: float | None,
    prices: Path | None,
    retry_failed: bool,
    dry_run: bool,
    batch_api: bool,
    no_wait: bool,
    batch_reask: str,
    batch_poll: float,
    no_cache: bool,
    read_workers: int,
) -> None:
    """Extract every article in ARCHIVES (directories, .txt, .md, .html, .jsonl, .csv, each
    also gzipped; any encoding) into --out.

    The same command again resumes: finished articles are skipped. Files in a directory that
    sitrep does not read (.pdf, hidden files) are counted by type in the summary, not failed.
    Ctrl-C stops starting new articles and finishes those in flight; a second Ctrl-C abandons
    them (they stay pending).
    Exit codes: 0 every article handled; 1 the output directory could not be written; 2 bad
    usage, or the directory is in use or disagrees with its ledger; 4 stopped early, articles
    left pending; 130 interrupted.
    """
    try:
        table = load_prices(prices) if prices else dict(DEFAULT_PRICES)
    except ConfigurationError as exc:
        fail(str(exc), code=2)
    options = BatchOptions(
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        max_cost=max_cost,
        retry_failed=retry_failed,
        prices=table,
        use_cache=not no_cache,
        read_workers=read_workers,
    )
    if max_cost is not None and price_for(config.model, table) is None:
        fail(f"--max-cost needs a price for {config.model}: pass --prices FILE", code=2)
    console = Console()
    if dry_run:
        try:
            plan = plan_batch(
                read_archives(archives, workers=read_workers),
                config,
                out_dir=out_dir,
                options=options,
            )
        except ConfigurationError as exc:
            fail(str(exc), code=2)
        console.print(plan_table(plan, batch_api=batch_api))
        return
    if batch_api:
        if replay is not None:
            fail(
                "--batch-api sends batch files to a live endpoint (or a local fake server); "
                "it cannot replay cassettes: drop --replay",
                code=2,
            )
        batch = batch_options_from(no_wait=no_wait, batch_reask=batch_reask, batch_poll=batch_poll)
        run_through_batch_api(archives, config, out_dir=out_dir, options=options, batch=batch)
        return
    api_key = api_key_for(replay, config)
    try:
        transport = AsyncReplayTransport(Recordings(replay)) if replay is not None else None
    except ReplayError as exc:
        fail(str(exc), code=2)
    with ProgressDisplay(total=count_inputs(archives)) as display:

        def work(stop: asyncio.Event) -> Coroutine[Any, Any, BatchSummary]:
            return _run(
                archives, config, api_key, out_dir, options, transport, stop, display.update
            )

        summary = run_until_stopped(
            work,
            out_dir,
            stopping="stopping; finishing the articles in flight (Ctrl-C again to abandon them)",
            interrupted="interrupted: articles in flight were abandoned and stay pending; "
            "run the same command to resume",
        )
    console.print(summary_table(summary))
    if summary.stopped is not None:
        sys.exit(4)


async def _run(
    archives: tuple[Path, ...],
    config: ModelConfig,
    api_key: str,
    out_dir: Path,
    options: BatchOptions,
    transport: httpx2.AsyncBaseTransport | None,
    stop: asyncio.Event,
    on_progress: Callable[[BatchProgress], None],
) -> BatchSummary:
    inputs = read_archives(archives, workers=options.read_workers)
    try:
        return await run_batch(
            inputs,
            config,
            api_key=api_key,
            out_dir=out_dir,
            options=options,
            transport=transport,
            stop=stop,
            on_progress=on_progress,
        )
    finally:
        inputs.close()  # stops the processes reading pages


main.add_command(batches_command)


@main.command(name="export")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*(f.value for f in ExportFormat), *EVENT_FORMATS]),
    default=ExportFormat.CSV.value,
    show_default=True,
    help="csv, parquet: the run's records; events-csv, events-parquet, acled: its merged "
    "events (after sitrep merge). Parquet needs the extra: pip install 'sitrep[parquet]'.",
)
def export_command(directory: Path, fmt: str) -> None:
    """Write a batch's incidents, statistics and failures in DIRECTORY as flat tables, or its
    merged events (events.jsonl) as a table or in ACLED's columns."""
    try:
        if fmt in EVENT_FORMATS:
            click.echo(str(export_events(directory, fmt)))
            return
        for path in export(directory, ExportFormat(fmt)):
            click.echo(str(path))
    except (ConfigurationError, OutputError) as exc:
        fail(str(exc), code=2)


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--window",
    type=click.IntRange(0),
    default=DEFAULT_WINDOW,
    show_default=True,
    help="Days either side of each date within which reports may be one event.",
)
@click.option(
    "--explain",
    "event",
    metavar="EVENT_ID",
    help="Print how each member joined this event instead of merging.",
)
def merge(run_dir: Path, window: int, event: str | None) -> None:
    """Group the incidents in RUN_DIR across articles into events (RUN_DIR/events.jsonl).

    Only incidents not merged before are read. Exit codes: 0 merged, 2 bad usage, or the run's
    files cannot be merged (or EVENT_ID is unknown).
    """
    try:
        if event is not None:
            for line in explain(run_dir, event):
                click.echo(line)
            return
        summary = merge_run(run_dir, Tolerances(window=window))
    except MergeError as exc:
        fail(str(exc), code=2)
    click.echo(
        f"{summary.new:,} new incident(s) merged; {summary.incidents:,} incident(s) in "
        f"{summary.events:,} event(s) in {run_dir / 'events.jsonl'}"
    )


@main.command(name="eval")
@click.argument("gold", type=click.Path(exists=True, path_type=Path))
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in ReportFormat]),
    default=ReportFormat.TABLE.value,
    show_default=True,
    help="table for the terminal, json (one object) for programs, markdown for reports.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Least similarity at which a gold and a predicted record match.",
)
@click.option(
    "--worst",
    type=click.IntRange(0),
    default=DEFAULT_WORST,
    show_default=True,
    help="How many of the lowest-F1 articles to list.",
)
def eval_command(gold: Path, run_dir: Path, fmt: str, threshold: float, worst: int) -> None:
    """Score the run in RUN_DIR against GOLD, field by field.

    GOLD is a .jsonl gold file or another run's directory. Gold articles the run lacks are
    scored as empty predictions; run articles the gold lacks are counted, not scored. Exit
    codes: 0 scored; 2 bad usage, or GOLD or RUN_DIR cannot be read as gold or a run.
    """
    try:
        gold_set = load_gold(gold)
        run_set = load_run(run_dir, only=gold_set.articles.keys())
        evaluation = evaluate_run(gold_set, run_set, threshold=threshold, worst=worst)
    except EvaluationError as exc:
        fail(str(exc), code=2)
    if fmt == ReportFormat.JSON:
        click.echo(render_json(evaluation))
    elif fmt == ReportFormat.MARKDOWN:
        click.echo(render_markdown(evaluation))
    else:
        console = Console()
        for section in sections(evaluation):
            console.print(section_table(section))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The HTML file to write [default: RUN_DIR/report.html].",
)
def report(run_dir: Path, output: Path | None) -> None:
    """Write the review page of the run in RUN_DIR: one HTML file that works offline."""
    try:
        click.echo(str(write_report(run_dir, output or run_dir / "report.html")))
    except (ConfigurationError, OutputError) as exc:
        fail(str(exc), code=2)
    except OSError as exc:
        fail(f"cannot write the page: {exc}", code=1)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schemas(directory: Path) -> None:
    """Write the JSON Schemas of the records to DIRECTORY."""
    for path in write_schemas(directory):
        click.echo(str(path))
