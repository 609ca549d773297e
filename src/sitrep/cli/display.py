"""What `sitrep run` shows people, part of the command line's edge: it prints, the library never.

On a terminal: a live progress bar (articles, rate, ETA, tokens, cost, failures). Otherwise:
a plain log line every `interval` seconds, for log files and CI. At the end: a summary table.
The tables of a `sitrep eval` report are drawn here too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sitrep.evaluate.report import Section
from sitrep.run.batchjobs import JobReport
from sitrep.run.batchrun import BatchApiSummary
from sitrep.run.plan import BatchPlan
from sitrep.run.scheduler import BatchProgress, BatchSummary


def _money(cost: float | None) -> str:
    return "unknown (no price for this model)" if cost is None else f"${cost:,.4f}"


def _stats(p: BatchProgress) -> str:
    # In flight: articles whose requests are on the wire, or waiting on Batch API batches.
    return (
        f"{p.prompt_tokens + p.completion_tokens:,} tokens, {_money(p.cost)}, "
        f"{p.failed:,} failed, {p.rate_limited:,} rate-limited, {p.in_flight:,} in flight"
    )


class ProgressDisplay:
    """Call `update` with each progress report; use as a context manager around the run."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, interval: float = 10.0) -> None:
        self.total = total
        self.stream = stream
        self.interval = interval
        self._last_log = 0.0
        self._live: Progress | None = None
        self._task: TaskID | None = None
        if stream.isatty():
            self._live = Progress(
                TextColumn("[bold]extracting"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[stats]}"),
                console=Console(file=stream),
                transient=False,
            )

    def __enter__(self) -> ProgressDisplay:
        if self._live is not None:
            self._live.start()
            self._task = self._live.add_task("run", total=self.total, rate="", stats="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def update(self, p: BatchProgress) -> None:
        handled = p.extracted + p.failed + p.skipped + p.duplicates + p.deferred + p.not_read
        rate = (p.extracted + p.failed) / p.elapsed if p.elapsed > 0 else 0.0
        if self._live is not None and self._task is not None:
            self._live.update(self._task, completed=handled, rate=f"{rate:,.1f}/s", stats=_stats(p))
            return
        now = time.monotonic()
        if now - self._last_log < self.interval:
            return
        self._last_log = now
        remaining = max(self.total - handled, 0)
        eta = f"{remaining / rate:,.0f} s" if rate > 0 else "unknown"
        print(
            f"sitrep: {handled:,}/{self.total:,} inputs, {rate:,.1f}/s, ETA {eta}, {_stats(p)}",
            file=self.stream,
            flush=True,
        )


def summary_table(summary: BatchSummary) -> Table:
    run = summary.run
    table = Table(title="sitrep run", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("this run", justify="right")
    table.add_column("all runs", justify="right")
    inputs = [
        ("articles read", run.read, None),
        ("extracted", run.extracted, summary.done),
        ("failed (see failures.jsonl)", run.failed, summary.failed),
        ("skipped (done before)", run.skipped, None),
        ("duplicates (same text)", run.duplicates, None),
        ("pending (not yet run)", run.deferred, summary.pending),
    ]
    outputs = [
        ("incidents", run.incidents, None),
        ("statistics", run.statistics, None),
        ("prompt tokens", run.prompt_tokens, None),
        ("  cached (served from the prompt cache)", run.cached_tokens, None),
        ("completion tokens", run.completion_tokens, None),
        ("rate-limited responses", run.rate_limited, None),
    ]
    for label, now, total in inputs:
        table.add_row(label, f"{now:,}", "" if total is None else f"{total:,}")
    for row in _not_read_rows(summary.not_read, summary.not_read_all_runs):
        table.add_row(*row)
    for label, now, total in outputs:
        table.add_row(label, f"{now:,}", "" if total is None else f"{total:,}")
    table.add_row("estimated cost", _money(run.cost), "")
    table.add_row("  saved by the prompt cache", _money(run.cache_saving), "")
    table.add_row("time", f"{run.elapsed:,.1f} s", "")
    table.caption = f"outputs in {summary.output_dir}"
    if summary.stopped is not None:
        table.caption += f"; stopped early ({summary.stopped}): run the same command to resume"
    return table


def batch_table(summary: BatchApiSummary) -> Table:
    """Where a Batch API run's batches stand, after its summary."""
    table = Table(title="Batch API", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    for state, count in summary.jobs.items():
        table.add_row(f"batch files {state}", f"{count:,}")
    table.add_row("requests submitted by this run", f"{summary.submitted:,}")
    table.add_row("requests in batches not yet collected", f"{summary.waiting:,}")
    table.add_row("every batch line so far, at batch prices", _money(summary.batch_cost))
    if summary.waiting:
        table.caption = (
            "batches still running: run the same command again (or sitrep batches DIR --wait) "
            "to collect them"
        )
    return table


def jobs_table(reports: Sequence[JobReport]) -> Table:
    """`sitrep batches DIR`: each batch file, its batch and its status."""
    table = Table(title="sitrep batches", header_style="bold")
    table.add_column("#", justify="right")
    for name in ("state", "batch", "status"):
        table.add_column(name, overflow="fold")
    for name in ("requests", "done", "failed"):
        table.add_column(name, justify="right")
    for r in reports:
        table.add_row(
            str(r.id),
            r.state,
            r.batch_id or "",
            r.status or "",
            f"{r.requests:,}",
            "" if r.completed is None else f"{r.completed:,}",
            "" if r.failed is None else f"{r.failed:,}",
        )
    table.caption = (
        "done and failed: lines answered and failed, as the server counts them for an open "
        "batch and the ledger for a collected one"
        if reports
        else "no batch files: this run has not used the Batch API"
    )
    return table


# Kinds of input not read shown by name; the rest are summed in one row.
NOT_READ_KINDS_SHOWN = 8


def _not_read_rows(
    now: Mapping[str, int], ever: Mapping[str, int] | None = None
) -> Iterator[tuple[str, str, str]]:
    """Rows "not read: .pdf files" with this run's count and every run's (`ever`), most first.

    Inputs sitrep does not read by design are no failures, but they are shown: a directory of
    1,200 PDFs that yields nothing must not look like an empty one.
    """
    kinds = list(dict.fromkeys([*(ever or {}), *now]))
    if not kinds:
        return

    def shown(counts: Mapping[str, int] | None, names: list[str]) -> str:
        return "" if counts is None else f"{sum(counts.get(name, 0) for name in names):,}"

    yield "not read (by type, not failed)", shown(now, kinds), shown(ever, kinds)
    for kind in kinds[:NOT_READ_KINDS_SHOWN]:
        yield f"  {kind}", shown(now, [kind]), shown(ever, [kind])
    if rest := kinds[NOT_READ_KINDS_SHOWN:]:
        yield f"  {len(rest):,} other kinds", shown(now, rest), shown(ever, rest)


def plan_table(plan: BatchPlan, *, batch_api: bool = False) -> Table:
    """The dry run's counts and costs. With `batch_api`, each cost is shown interactive and at
    Batch API prices side by side, each as a share of the interactive cost with nothing cached."""
    table = Table(title="sitrep run --dry-run (nothing was sent)", header_style="bold")
    table.add_column("")
    table.add_column("", justify="right")
    tokens = "counted with the model's tokenizer" if plan.exact_tokens else "estimated"
    for label, value in (
        ("articles to extract", f"{plan.articles:,}"),
        ("unreadable (would fail)", f"{plan.unreadable:,}"),
        ("  too long for the context window", f"{plan.over_context:,}"),
        ("already done", f"{plan.already_done:,}"),
        ("requests to send", f"{plan.requests:,}"),
        ("  articles sent in chunks", f"{plan.chunked:,}"),
    ):
        table.add_row(label, value)
    for label, value, _ in _not_read_rows(plan.not_read):
        table.add_row(label, value)
    table.add_row(f"prompt tokens ({tokens})", f"{plan.prompt_tokens:,}")
    table.add_row("completion tokens (expected)", f"{plan.completion_tokens:,}")
    cached = f"  with prompt caching ({plan.cacheable_tokens:,} prompt tokens cached)"
    caption = (
        "with prompt caching: the static prefix of every request after the first from the "
        "cache (OpenAI's rule: 1,024 tokens or more, in 128-token steps)"
    )
    if not batch_api:
        table.add_row("estimated cost", _money(plan.cost))
        table.add_row(cached, _money(plan.cost_cached))
        table.caption = caption
        return table
    share = "    of interactive, nothing cached"
    table.add_row("estimated cost: interactive / Batch API", _pair(plan.cost, plan.cost_batch))
    table.add_row(share, _shares(plan.cost, plan.cost, plan.cost_batch))
    table.add_row(cached, _pair(plan.cost_cached, plan.cost_batch_cached))
    table.add_row(share, _shares(plan.cost, plan.cost_cached, plan.cost_batch_cached))
    # A provider that caches no batch request reports no cached tokens: the plain batch cost.
    table.caption = (
        f"{caption}. Batch API: every rate at the model's batch share (OpenAI: half); with "
        "prompt caching where the provider applies both"
    )
    return table


def _pair(interactive: float | None, batch: float | None) -> str:
    if interactive is None or batch is None:
        return _money(None)
    return f"{_money(interactive)} / {_money(batch)}"


def _shares(base: float | None, interactive: float | None, batch: float | None) -> str:
    """`interactive` and `batch` as shares of `base`; "n/a" when there is nothing to divide."""
    if base is None or interactive is None or batch is None or base <= 0:
        return "n/a"
    return f"{interactive / base:.0%} / {batch / base:.0%}"


def section_table(section: Section) -> Table:
    """One table of a `sitrep eval` report (`sitrep.evaluate.report.sections`)."""
    table = Table(title=section.title, header_style="bold", caption=section.note or None)
    for index, header in enumerate(section.headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in section.rows:
        table.add_row(*row)
    return table
