"""The batch job's scheduler: an archive of articles through the extractor into a store.

    inputs (readers) → skip what the ledger has finished → within the cost ceiling (`Budget`)
    → a bounded number in progress → extractor (requests paced on the wire, logged and cached:
    `sitrep.wire`) → the store's atomic finish (`RunStore`) → summary

Everything streams: inputs are read one at a time, and at most `concurrency` requests are in
flight, with twice as many articles in memory (`ARTICLES_PER_REQUEST`): those whose
requests are built and waiting to take a free place on the wire, and those being checked after
their answers. Each article ends `done` (its records in incidents.jsonl / statistics.jsonl, its
text in articles.jsonl), `failed` (with a specific reason in failures.jsonl), or `pending` (not
started because the cost ceiling was reached or the run was stopped; the next run picks it
up). An input sitrep does not read by design (`InputItem.skip`: a .pdf in a directory) is no
article and no failure: the ledger keeps its location and kind once, and the summary counts
it by kind. The same command again resumes: finished articles are skipped, and requests already
answered are served from the ledger's response cache instead of being paid for again.

A long article's chunks are sent one after another inside its task, never side by side
(`sitrep.extract.extractor` says why): an article still has at most one request on the wire,
so the article slots bound the requests as they always did, and an article stopped part-way
resumes with its answered chunks served from the cache.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import httpx2

from sitrep.errors import ArticleError, ExtractionError, OutputError, ReplayError, SitrepError
from sitrep.extract.extractor import Extractor
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.model.schemas import schema_version
from sitrep.model.usage import TokenUsage
from sitrep.run.batchbook import BatchBook
from sitrep.run.budget import Budget, price_for
from sitrep.run.ledger import ArticleOutcome, ArticleStatus, Ledger
from sitrep.run.readers import InputItem, most_first
from sitrep.run.store import RunStore
from sitrep.settings import BatchOptions, ModelConfig
from sitrep.wire.pacing import Pacer

# Seconds of ledger writes grouped into one commit: what a process killed at the worst instant
# makes the next run do again.
LEDGER_COMMIT_INTERVAL = 0.25
# Articles in progress per request slot: one waiting on its answer, one being prepared or checked.
ARTICLES_PER_REQUEST = 2
# Inputs read in a row before the reader lets other tasks run, when no slot wait does.
_READS_BETWEEN_PAUSES = 100


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """Counts for this run so far; `in_flight` articles are being extracted."""

    read: int = 0  # articles, and inputs that could not be read as one
    extracted: int = 0
    failed: int = 0
    skipped: int = 0  # finished (or failed) in an earlier run
    duplicates: int = 0  # the same text at another location
    deferred: int = 0  # left pending by the cost ceiling or a stop
    not_read: int = 0  # inputs sitrep does not read by design (`InputItem.skip`): .pdf files
    in_flight: int = 0
    incidents: int = 0
    statistics: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, served from the prompt cache
    cost: float | None = 0.0  # None when the model has no price
    cache_saving: float | None = 0.0  # what cached_tokens would have cost more uncached
    rate_limited: int = 0  # 429s seen
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """The run's counts, the ledger's totals over every run, and why it stopped early, if it did."""

    run: BatchProgress
    done: int  # in the ledger, over every run
    failed: int
    pending: int
    stopped: str | None  # "cost ceiling", "stopped", or None when every input was handled
    output_dir: Path
    # Inputs not read by design, by kind (".pdf files"), most first: seen in this run, and
    # in the ledger over every run (each location once).
    not_read: Mapping[str, int] = field(default_factory=dict)
    not_read_all_runs: Mapping[str, int] = field(default_factory=dict)


Inputs = Iterable[InputItem | Article] | AsyncIterable[InputItem | Article]


async def run_batch(
    inputs: Inputs,
    config: ModelConfig,
    *,
    api_key: str,
    out_dir: Path,
    options: BatchOptions | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
) -> BatchSummary:
    """Extract every input into `out_dir`, resuming whatever an earlier run left there.

    `transport` replaces the network (a replay transport, a test server's); `stop`, once set,
    starts no more articles and lets those in flight finish. Cancelling the call abandons the
    ones in flight; they stay pending for the next run.
    """
    options = options or BatchOptions()
    # No answer runs past the cap, whatever is expected of it.
    expected_output = min(options.expected_output_tokens, config.max_output_tokens)
    with RunStore.open(out_dir, commit_interval=LEDGER_COMMIT_INTERVAL) as store:
        if waiting := BatchBook(store.ledger).waiting():
            # Sending them here too would pay for them twice.
            raise OutputError(
                f"{out_dir} has {waiting:,} requests in Batch API batches not yet collected: "
                "go on with --batch-api, or collect them (sitrep batches DIR --wait) or "
                "cancel them (sitrep batches DIR --cancel) first"
            )
        pacer = Pacer(
            options.concurrency,
            rpm=options.rpm,
            tpm=options.tpm,
            expected_output_tokens=expected_output,
        )
        wire = transport or httpx2.AsyncHTTPTransport(
            limits=httpx2.Limits(
                max_connections=options.concurrency * 2,
                max_keepalive_connections=options.concurrency,
            )
        )
        extractor = Extractor(
            config,
            api_key=api_key,
            async_http_client=httpx2.AsyncClient(transport=wire),
            call_log=store.ledger,
            cache=store.ledger if options.use_cache else None,
            pacer=pacer,
        )
        budget = Budget(
            price_for(config.model, options.prices),
            max_cost=options.max_cost,
            expected_output_tokens=expected_output,
            fixed_request_chars=extractor.requests.fixed_chars,
            chunks=extractor.chunks,
        )
        scheduler = Scheduler(
            extractor, store, budget, pacer, options=options, on_progress=on_progress
        )
        committer = asyncio.create_task(_commit_periodically(store.ledger))
        try:
            stopped = await scheduler.consume(inputs, stop or asyncio.Event())
            await scheduler.settle()
        except asyncio.CancelledError:
            await scheduler.abandon()
            raise
        finally:
            committer.cancel()
            await extractor.aclose()
        counts = store.ledger.counts()
        not_read_all_runs = store.ledger.skipped_counts()
    return BatchSummary(
        run=scheduler.progress(),
        done=counts[ArticleStatus.DONE],
        failed=counts[ArticleStatus.FAILED],
        pending=counts[ArticleStatus.PENDING],
        stopped=stopped,
        output_dir=out_dir,
        not_read=most_first(scheduler.counts.not_read),
        not_read_all_runs=not_read_all_runs,
    )


async def _commit_periodically(ledger: Ledger) -> None:
    """Commit a group of writes that no later write came to commit (answers are slow to come)."""
    while True:
        await asyncio.sleep(LEDGER_COMMIT_INTERVAL)
        ledger.commit()


class _Start(Enum):
    NEW = "new"
    RESUME = "resume"  # pending from an earlier run: cached answers are reused
    RETRY = "retry"  # failed before and retried: asked afresh, not served from the cache


@dataclass(slots=True)
class RunCounts:
    """What this run has done so far, counted as it happens."""

    read: int = 0
    extracted: int = 0
    failed: int = 0
    skipped: int = 0
    duplicates: int = 0
    deferred: int = 0
    incidents: int = 0
    statistics: int = 0
    not_read: Counter[str] = field(default_factory=Counter)

    def extracted_one(self, extraction: Extraction) -> None:
        self.extracted += 1
        self.incidents += len(extraction.incidents)
        self.statistics += len(extraction.statistics)


class Scheduler:
    """Decides what to extract and when: article slots, the articles in flight, the stop."""

    def __init__(
        self,
        extractor: Extractor,
        store: RunStore,
        budget: Budget,
        pacer: Pacer,
        *,
        options: BatchOptions,
        on_progress: Callable[[BatchProgress], None] | None = None,
    ) -> None:
        self.extractor = extractor
        self.store = store
        self.budget = budget
        self.pacer = pacer
        self.options = options
        self.on_progress = on_progress
        self.counts = RunCounts()
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        # The first error an article could not be finished with (the store failing: a full
        # disk). It stops the run: nothing more is read or sent, and `settle` raises it.
        self.broken: BaseException | None = None
        self.started = time.monotonic()
        self.slots = asyncio.Semaphore(options.concurrency * ARTICLES_PER_REQUEST)

    async def consume(self, inputs: Inputs, stop: asyncio.Event) -> str | None:
        stopped: str | None = None
        async for raw in _aiter(inputs):
            if self.broken is not None:
                return "stopped"  # settle() raises what broke it
            if stop.is_set():
                # Read no further: a stop must be prompt, and the next run reads the rest anyway.
                # Past the cost ceiling, reading goes on to count and record what is left.
                return stopped or "stopped"
            item = raw if isinstance(raw, InputItem) else InputItem.from_article(raw)
            if item.skipped is not None:  # not read by design: counted, once per location
                self.store.ledger.add_skipped(item.location, item.skipped)
                self.counts.not_read[item.skipped] += 1
                continue
            self.counts.read += 1
            start = self._start_kind(item)
            if start is None:
                continue
            assert item.article is not None  # _start_kind took every unreadable input
            if stopped is None and self.budget.would_pass_ceiling(item.article):
                stopped = "cost ceiling"
            if stopped is not None:
                self.counts.deferred += 1
                continue
            await self.slots.acquire()
            if stop.is_set() or self.broken is not None:
                # Set while waiting for a slot: this one was read, and stays pending.
                self.slots.release()
                self.counts.deferred += 1
                return "stopped"
            self._launch(item.article, fresh=start is _Start.RETRY)
        return stopped

    async def settle(self) -> None:
        """Wait for the articles in flight to finish; raise what broke the run, if anything did."""
        await asyncio.gather(*self.in_flight.values(), return_exceptions=True)
        if self.broken is not None:
            raise self.broken

    async def abandon(self) -> None:
        """Cancel the articles in flight; never committed, they stay pending."""
        tasks = list(self.in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def progress(self) -> BatchProgress:
        c, usage = self.counts, self.budget.usage
        return BatchProgress(
            read=c.read,
            extracted=c.extracted,
            failed=c.failed,
            skipped=c.skipped,
            duplicates=c.duplicates,
            deferred=c.deferred,
            not_read=c.not_read.total(),
            in_flight=len(self.in_flight),
            incidents=c.incidents,
            statistics=c.statistics,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost=self.budget.cost,
            cache_saving=self.budget.cache_saving,
            rate_limited=self.pacer.rate_limited,
            elapsed=time.monotonic() - self.started,
        )

    def _start_kind(self, item: InputItem) -> _Start | None:
        """Record the input in the ledger; say how to extract it now, or None to skip it."""
        ledger = self.store.ledger
        row = ledger.get(item.id)
        if item.id in self.in_flight or (row is not None and row.location != item.location):
            self.counts.duplicates += 1
            ledger.add_duplicate(item.id, item.location)
            return None
        if item.article is None:  # unreadable: a failure straight away, once
            if row is None or (self.options.retry_failed and row.status is ArticleStatus.FAILED):
                ledger.add_pending(item.id, item.location)
                ledger.start(item.id)
                self._finish_failed(item.id, "input", item.error or "unreadable", TokenUsage())
            else:
                self.counts.skipped += 1
            return None
        if row is None:
            ledger.add_pending(item.id, item.location)
            return _Start.NEW
        if row.status is ArticleStatus.PENDING:
            return _Start.RESUME
        if row.status is ArticleStatus.FAILED and self.options.retry_failed:
            return _Start.RETRY
        self.counts.skipped += 1
        return None

    def _launch(self, article: Article, *, fresh: bool) -> None:
        """Extract `article` in a task; `fresh` asks the endpoint even if an answer is cached."""
        estimate = self.budget.reserve(article)

        async def extract_one() -> None:
            try:
                self.store.ledger.start(article.id)
                await self._extract(article, fresh=fresh)
            except Exception as exc:
                self._break(exc)
                raise
            finally:
                self.budget.release(estimate)
                del self.in_flight[article.id]
                self.slots.release()
                if self.on_progress is not None:
                    self.on_progress(self.progress())

        task = asyncio.create_task(extract_one())
        # Retrieved here, so a task that broke the run is never reported as unretrieved.
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        self.in_flight[article.id] = task

    def _break(self, error: Exception) -> None:
        """Stop the run on an error that escaped an article.

        Every error of the article's own is already its failure (`_extract`), so what escapes is
        the store's (a full disk), and nothing more can be kept: no article starts, the others
        in flight are abandoned (never committed, they stay pending), and `settle` raises it.
        Set before the article's slot is released, so that no waiting article starts on it.
        """
        if self.broken is None:
            self.broken = error
            current = asyncio.current_task()
            for task in self.in_flight.values():
                if task is not current:
                    task.cancel()

    async def _extract(self, article: Article, *, fresh: bool) -> None:
        try:
            extraction = await self.extractor.aextract(article, fresh=fresh)
        except ArticleError as exc:
            self._finish_failed(article.id, "article", str(exc), TokenUsage(), article)
        except ExtractionError as exc:
            self._finish_failed(article.id, type(exc).__name__, str(exc), exc.usage, article)
        except ReplayError as exc:
            self._finish_failed(article.id, "replay", str(exc), TokenUsage(), article)
        except SitrepError as exc:  # any other error of ours is still this article's failure
            self._finish_failed(article.id, type(exc).__name__, str(exc), TokenUsage(), article)
        else:
            self._finish_done(article, extraction)

    def _finish_done(self, article: Article, extraction: Extraction) -> None:
        outcome = self._outcome(
            extraction.provenance.usage,
            incidents=len(extraction.incidents),
            statistics=len(extraction.statistics),
            chunks=extraction.provenance.chunks,
        )
        self.store.finish_done(article, extraction, outcome)
        self.counts.extracted_one(extraction)

    def _finish_failed(
        self,
        article_id: str,
        kind: str,
        reason: str,
        usage: TokenUsage,
        article: Article | None = None,
    ) -> None:
        """Mark the article failed; the chunks it was to be sent in are counted when it has any."""
        outcome = self._outcome(usage, error_kind=kind, error=reason, chunks=self._chunks(article))
        self.store.finish_failed(article_id, outcome)
        self.counts.failed += 1

    def _chunks(self, article: Article | None) -> int | None:
        if article is None:
            return None
        try:
            return len(self.extractor.chunks(article))
        except ArticleError:  # too long to send at all
            return None

    def _outcome(
        self,
        usage: TokenUsage,
        *,
        incidents: int = 0,
        statistics: int = 0,
        error_kind: str | None = None,
        error: str | None = None,
        chunks: int | None = None,
    ) -> ArticleOutcome:
        return article_outcome(
            self.extractor,
            usage,
            self.budget.charge(usage),
            incidents=incidents,
            statistics=statistics,
            error_kind=error_kind,
            error=error,
            chunks=chunks,
        )


def article_outcome(
    extractor: Extractor,
    usage: TokenUsage,
    cost: float | None,
    *,
    incidents: int = 0,
    statistics: int = 0,
    error_kind: str | None = None,
    error: str | None = None,
    chunks: int | None = None,
) -> ArticleOutcome:
    """What finishing an article writes to its ledger row, whichever path extracted it."""
    return ArticleOutcome(
        model=extractor.config.model,
        prompt_version=extractor.prompts.version,
        schema_version=schema_version(),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost=cost,
        incidents=incidents,
        statistics=statistics,
        error_kind=error_kind,
        error=error,
        chunks=chunks,
    )


async def _aiter(inputs: Inputs) -> AsyncIterator[InputItem | Article]:
    if isinstance(inputs, AsyncIterable):
        async for item in inputs:
            yield item
    else:
        for n, item in enumerate(inputs, start=1):
            yield item
            # Reading goes on without a pause while article slots are free (waiting for one
            # lets the others run); yielding after every item instead would launch one article
            # per turn of a busy event loop and starve the wire. A pause now and then lets a
            # run that only skips finished articles still show progress and commit.
            if n % _READS_BETWEEN_PAUSES == 0:
                await asyncio.sleep(0)
