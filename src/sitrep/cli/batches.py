"""The command line of the Batch API path: `sitrep run --batch-api` and `sitrep batches DIR`.

Part of the edge: it reads the key, prints and exits; the library (`sitrep.run.batchrun`) does
the work. A first Ctrl-C stops at the next step and leaves every submitted batch running at the
server, to be collected by the next run; a second abandons the step in progress (the ledger
keeps every step that was taken).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from sitrep.cli.display import ProgressDisplay, batch_table, jobs_table, summary_table
from sitrep.cli.options import api_key_for, fail, model_options
from sitrep.cli.running import run_until_stopped
from sitrep.run.batchjobs import BatchAction, manage_batches
from sitrep.run.batchrun import BatchApiSummary, run_batch_api
from sitrep.run.readers import count_inputs, read_archives
from sitrep.settings import BatchApiOptions, BatchOptions, ModelConfig, ReaskRoute

Result = TypeVar("Result")
_DEFAULTS = BatchApiOptions()
_STOPPING = (
    "stopping at the next step; submitted batches go on at the server (Ctrl-C again to stop "
    "at once)"
)
_INTERRUPTED = "interrupted: every step taken is in the ledger; run the same command to go on"


def run_through_batch_api(
    archives: tuple[Path, ...],
    config: ModelConfig,
    *,
    out_dir: Path,
    options: BatchOptions,
    batch: BatchApiOptions,
) -> None:
    """`sitrep run ... --batch-api`: run, show the summary, exit 4 while articles wait."""
    api_key = api_key_for(None, config)
    with ProgressDisplay(total=count_inputs(archives)) as display:

        def run(stop: asyncio.Event) -> Coroutine[Any, Any, BatchApiSummary]:
            return run_batch_api(
                lambda: read_archives(archives, workers=options.read_workers),
                config,
                api_key=api_key,
                out_dir=out_dir,
                options=options,
                batch=batch,
                stop=stop,
                on_progress=display.update,
            )

        summary = run_until_stopped(run, out_dir, stopping=_STOPPING, interrupted=_INTERRUPTED)
    console = Console()
    console.print(summary_table(summary.summary))
    console.print(batch_table(summary))
    if summary.summary.stopped is not None:
        sys.exit(4)


_poll_option = click.option(
    "--batch-poll",
    type=click.FloatRange(0.01),
    default=_DEFAULTS.poll_initial,
    show_default=True,
    help="With --batch-api: seconds before the first poll of a batch's status; each wait "
    f"after is half as long again, up to {_DEFAULTS.poll_max:g} s.",
)


def batch_run_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options `sitrep run` takes for the Batch API path only."""
    for option in reversed(
        (
            click.option(
                "--no-wait",
                is_flag=True,
                help="With --batch-api: submit the batches and return (exit 4) instead of "
                "waiting; run the same command again, or sitrep batches DIR --wait, to collect.",
            ),
            _poll_option,
            click.option(
                "--batch-reask",
                type=click.Choice([route.value for route in ReaskRoute]),
                default=_DEFAULTS.reask.value,
                show_default=True,
                help="With --batch-api: send re-asks of invalid answers in the next batch, or "
                "at once to the interactive endpoint (standard price).",
            ),
        )
    ):
        command = option(command)
    return command


@click.command(name="batches")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@model_options
@click.option("--wait", is_flag=True, help="Poll with backoff until every batch is collected.")
@click.option("--cancel", is_flag=True, help="Cancel every open batch and collect what it did.")
@_poll_option
def batches_command(
    directory: Path,
    *,
    config: ModelConfig,
    replay: Path | None,
    wait: bool,
    cancel: bool,
    batch_poll: float,
) -> None:
    """Show the Batch API batches of the run in DIRECTORY, with their status at the server.

    --wait collects every batch into the ledger (then sitrep run --batch-api over the same
    archive writes the records); --cancel cancels the open ones: what they finished is kept,
    the rest goes in the next run's batches. Give the same --model and --base-url as the run.
    """
    if wait and cancel:
        fail("give --wait or --cancel, not both", code=2)
    if replay is not None:
        fail("sitrep batches talks to a live endpoint; it cannot replay cassettes", code=2)
    api_key = api_key_for(None, config)
    action = BatchAction.CANCEL if cancel else BatchAction.WAIT if wait else BatchAction.STATUS

    async def work(stop: asyncio.Event) -> Any:
        return await manage_batches(
            directory,
            config,
            api_key=api_key,
            action=action,
            batch=_polling(BatchApiOptions(), batch_poll),
            stop=stop,
        )

    reports = run_until_stopped(work, directory, stopping=_STOPPING, interrupted=_INTERRUPTED)
    Console().print(jobs_table(reports))


def batch_options_from(*, no_wait: bool, batch_reask: str, batch_poll: float) -> BatchApiOptions:
    return _polling(BatchApiOptions(wait=not no_wait, reask=ReaskRoute(batch_reask)), batch_poll)


def _polling(options: BatchApiOptions, first: float) -> BatchApiOptions:
    return dataclasses.replace(options, poll_initial=first, poll_max=max(first, options.poll_max))
