"""The batch job: an archive of articles through the extractor into an output directory.

    inputs (readers) → skip what the ledger has finished → bounded concurrency → extractor
    (calls logged, cached and rate-limited on the wire: `sitrep.calls`) → outputs + ledger,
    committed together → summary

Everything streams: inputs are read one at a time, and at most `concurrency` requests are in
flight, with twice as many articles in memory (`ARTICLES_PER_REQUEST`): those whose
requests are built and waiting to take a free place on the wire, and those being checked after
their answers. Each article ends `done` (its records in incidents.jsonl / statistics.jsonl),
`failed` (with a specific reason in failures.jsonl), or `pending` (not started because the cost
ceiling was reached or the run was stopped; the next run picks it up). The same command again
resumes: finished articles are skipped, and requests already answered are served from the
ledger's response cache instead of being paid for again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import httpx2
from filelock import FileLock, Timeout

from sitrep.article import Article
from sitrep.calls import LoggedTransport, current_article, fresh_answers
from sitrep.costs import CHARS_PER_TOKEN, DEFAULT_PRICES, Price, price_for, token_counter
from sitrep.errors import ArticleError, ExtractionError, OutputError, ReplayError, SitrepError
from sitrep.extractor import Extractor, ModelConfig
from sitrep.ledger import LEDGER_NAME, Completion, Ledger, Status
from sitrep.outputs import INCIDENTS, STATISTICS, Outputs, write_failures
from sitrep.ratelimit import RateLimiter
from sitrep.readers import InputItem
from sitrep.records import Extraction, TokenUsage
from sitrep.schemas import schema_version

# Held by the run writing to an output directory.
LOCK_NAME = "run.lock"
# Seconds of ledger writes grouped into one commit: what a process killed at the worst instant
# makes the next run do again.
LEDGER_COMMIT_INTERVAL = 0.25
# Articles in progress per request slot: one waiting on its answer, one being prepared or checked.
ARTICLES_PER_REQUEST = 2
# Inputs read in a row before the reader lets other tasks run, when no slot wait does.
_READS_BETWEEN_PAUSES = 100


@dataclass(frozen=True, slots=True)
class BatchOptions:
    concurrency: int = 16  # requests in flight at once
    rpm: int | None = None  # requests per minute the endpoint allows
    tpm: int | None = None  # tokens per minute the endpoint allows
    max_cost: float | None = None  # US dollars; no article starts once this is reached
    retry_failed: bool = False  # try failed articles again
    prices: Mapping[str, Price] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    expected_output_tokens: int = 1000  # for budgets before a response says how many it used
    use_cache: bool = True  # serve identical requests from earlier answers


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """Counts for this run so far; `in_flight` articles are being extracted."""

    read: int = 0
    extracted: int = 0
    failed: int = 0
    skipped: int = 0  # finished (or failed) in an earlier run
    duplicates: int = 0  # the same text at another location
    deferred: int = 0  # left pending by the cost ceiling or a stop
    in_flight: int = 0
    incidents: int = 0
    statistics: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0  # None when the model has no price
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
    with (
        _only_run_in(out_dir),
        contextlib.closing(Ledger.open(out_dir, commit_interval=LEDGER_COMMIT_INTERVAL)) as ledger,
    ):
        limiter = RateLimiter(options.rpm, options.tpm)
        inner = transport or httpx2.AsyncHTTPTransport(
            limits=httpx2.Limits(
                max_connections=options.concurrency * 2,
                max_keepalive_connections=options.concurrency,
            )
        )
        wire = LoggedTransport(
            inner,
            ledger,
            limiter=limiter,
            expected_output_tokens=options.expected_output_tokens,
            use_cache=options.use_cache,
            max_in_flight=options.concurrency,
        )
        extractor = Extractor(
            config, api_key=api_key, async_http_client=httpx2.AsyncClient(transport=wire)
        )
        run = _Run(
            extractor,
            ledger=ledger,
            outputs=Outputs(out_dir, ledger),
            limiter=limiter,
            options=options,
            on_progress=on_progress,
        )
        committer = asyncio.create_task(_commit_periodically(ledger))
        try:
            stopped = await run.consume(inputs, stop or asyncio.Event())
            await run.settle()
        except asyncio.CancelledError:
            await run.abandon()
            raise
        finally:
            committer.cancel()
            write_failures(out_dir, ledger)
            run.outputs.close()
            await extractor.aclose()
        counts = ledger.counts()
    return BatchSummary(
        run=run.progress(),
        done=counts[Status.DONE],
        failed=counts[Status.FAILED],
        pending=counts[Status.PENDING],
        stopped=stopped,
        output_dir=out_dir,
    )


@contextlib.contextmanager
def _only_run_in(out_dir: Path) -> Iterator[None]:
    """Hold `out_dir` for this run: two runs appending to the same outputs would corrupt them.

    The lock is the operating system's, on a file in `out_dir`, so it is released when the
    process ends, however it ends.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(out_dir / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise OutputError(
            f"{out_dir} is in use by another sitrep run: wait for it to end, or use another "
            "output directory"
        ) from None
    try:
        yield
    finally:
        lock.release()


async def _commit_periodically(ledger: Ledger) -> None:
    """Commit a group of writes that no later write came to commit (answers are slow to come)."""
    while True:
        await asyncio.sleep(LEDGER_COMMIT_INTERVAL)
        ledger.commit()


class _Start(Enum):
    NEW = "new"
    RESUME = "resume"  # pending from an earlier run: cached answers are reused
    RETRY = "retry"  # failed before and retried: asked afresh, not served from the cache


class _Run:
    def __init__(
        self,
        extractor: Extractor,
        *,
        ledger: Ledger,
        outputs: Outputs,
        limiter: RateLimiter,
        options: BatchOptions,
        on_progress: Callable[[BatchProgress], None] | None,
    ) -> None:
        self.extractor = extractor
        self.ledger = ledger
        self.outputs = outputs
        self.limiter = limiter
        self.options = options
        self.on_progress = on_progress
        self.price = price_for(extractor.config.model, options.prices)
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "read",
                "extracted",
                "failed",
                "skipped",
                "duplicates",
                "deferred",
                "incidents",
                "statistics",
            ),
            0,
        )
        self.usage = TokenUsage()
        self.cost = 0.0
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.committed_estimate = 0.0  # estimated cost of the articles in flight
        self.started = time.monotonic()
        self.slots = asyncio.Semaphore(options.concurrency * ARTICLES_PER_REQUEST)

    async def consume(self, inputs: Inputs, stop: asyncio.Event) -> str | None:
        stopped: str | None = None
        async for raw in _aiter(inputs):
            if stop.is_set():
                # Read no further: a stop must be prompt, and the next run reads the rest anyway.
                # Past the cost ceiling, reading goes on to count and record what is left.
                return stopped or "stopped"
            item = raw if isinstance(raw, InputItem) else InputItem(_location(raw), article=raw)
            self.counts["read"] += 1
            start = self._start_kind(item)
            if start is None:
                continue
            assert item.article is not None  # _should_start took every unreadable input
            if stopped is None and self._over_budget(item.article):
                stopped = "cost ceiling"
            if stopped is not None:
                self.counts["deferred"] += 1
                continue
            await self.slots.acquire()
            if stop.is_set():  # set while waiting for a slot: this one was read, and stays pending
                self.slots.release()
                self.counts["deferred"] += 1
                return "stopped"
            self._launch(item.article, fresh=start is _Start.RETRY)
        return stopped

    async def settle(self) -> None:
        """Wait for the articles in flight to finish."""
        await asyncio.gather(*self.in_flight.values())

    async def abandon(self) -> None:
        """Cancel the articles in flight; never committed, they stay pending."""
        tasks = list(self.in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def progress(self) -> BatchProgress:
        return BatchProgress(
            **self.counts,
            in_flight=len(self.in_flight),
            prompt_tokens=self.usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens,
            cost=self.cost if self.price is not None else None,
            rate_limited=self.limiter.rate_limited,
            elapsed=time.monotonic() - self.started,
        )

    def _start_kind(self, item: InputItem) -> _Start | None:
        """Record the input in the ledger; say how to extract it now, or None to skip it."""
        row = self.ledger.get(item.id)
        if item.id in self.in_flight or (row is not None and row.location != item.location):
            self.counts["duplicates"] += 1
            self.ledger.add_duplicate(item.id, item.location)
            return None
        if item.article is None:  # unreadable: a failure straight away, once
            if row is None or (self.options.retry_failed and row.status is Status.FAILED):
                self.ledger.add_pending(item.id, item.location)
                self.ledger.start(item.id)
                self._finish_failed(item.id, "input", item.error or "unreadable", TokenUsage())
            else:
                self.counts["skipped"] += 1
            return None
        if row is None:
            self.ledger.add_pending(item.id, item.location)
            return _Start.NEW
        if row.status is Status.PENDING:
            return _Start.RESUME
        if row.status is Status.FAILED and self.options.retry_failed:
            return _Start.RETRY
        self.counts["skipped"] += 1
        return None

    def _over_budget(self, article: Article) -> bool:
        if self.options.max_cost is None or self.price is None:
            return False
        return self.cost + self.committed_estimate + self._estimate(article) > self.options.max_cost

    def _estimate(self, article: Article) -> float:
        if self.price is None:
            return 0.0
        prompt_chars = self.extractor.fixed_request_chars + len(article.text)
        return self.price.cost(prompt_chars // CHARS_PER_TOKEN, self.options.expected_output_tokens)

    def _launch(self, article: Article, *, fresh: bool) -> None:
        """Extract `article` in a task; `fresh` asks the endpoint even if an answer is cached."""
        estimate = self._estimate(article)
        self.committed_estimate += estimate

        async def extract_one() -> None:
            token = current_article.set(article.id)
            fresh_token = fresh_answers.set(fresh)
            try:
                self.ledger.start(article.id)
                await self._extract(article)
            finally:
                fresh_answers.reset(fresh_token)
                current_article.reset(token)
                self.committed_estimate -= estimate
                del self.in_flight[article.id]
                self.slots.release()
                if self.on_progress is not None:
                    self.on_progress(self.progress())

        self.in_flight[article.id] = asyncio.create_task(extract_one())

    async def _extract(self, article: Article) -> None:
        try:
            extraction = await self.extractor.aextract(article)
        except ArticleError as exc:
            self._finish_failed(article.id, "article", str(exc), TokenUsage())
        except ExtractionError as exc:
            self._finish_failed(article.id, type(exc).__name__, str(exc), exc.usage)
        except ReplayError as exc:
            self._finish_failed(article.id, "replay", str(exc), TokenUsage())
        except SitrepError as exc:  # any other error of ours is still this article's failure
            self._finish_failed(article.id, type(exc).__name__, str(exc), TokenUsage())
        else:
            self._finish_done(extraction)

    def _finish_done(self, extraction: Extraction) -> None:
        usage = extraction.provenance.usage
        sizes = self.outputs.sizes()
        try:
            committed = {
                INCIDENTS: self.outputs.incidents.append(extraction.incidents),
                STATISTICS: self.outputs.statistics.append(extraction.statistics),
            }
            self.ledger.finish(
                extraction.article_id,
                Status.DONE,
                self._completion(
                    usage,
                    incidents=len(extraction.incidents),
                    statistics=len(extraction.statistics),
                ),
                committed=committed,
            )
        except BaseException:
            # The article stays pending: its records must not ride in with the next commit.
            self.outputs.cut_back(sizes)
            raise
        self.counts["extracted"] += 1
        self.counts["incidents"] += len(extraction.incidents)
        self.counts["statistics"] += len(extraction.statistics)

    def _finish_failed(self, article_id: str, kind: str, reason: str, usage: TokenUsage) -> None:
        self.ledger.finish(
            article_id, Status.FAILED, self._completion(usage, error_kind=kind, error=reason)
        )
        self.counts["failed"] += 1

    def _completion(
        self,
        usage: TokenUsage,
        *,
        incidents: int = 0,
        statistics: int = 0,
        error_kind: str | None = None,
        error: str | None = None,
    ) -> Completion:
        self.usage = self.usage + usage
        cost = None
        if self.price is not None:
            cost = self.price.cost(usage.prompt_tokens, usage.completion_tokens)
            self.cost += cost
        return Completion(
            model=self.extractor.config.model,
            prompt_version=self.extractor.prompts.version,
            schema_version=schema_version(),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
            incidents=incidents,
            statistics=statistics,
            error_kind=error_kind,
            error=error,
        )


def _location(article: Article) -> str:
    return article.source or article.url or f"article {article.id}"


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


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a run would send, counted without sending anything."""

    articles: int  # would be extracted
    unreadable: int  # would fail before any request
    already_done: int  # finished in an earlier run into the same directory
    prompt_tokens: int
    completion_tokens: int  # expected: `expected_output_tokens` per article
    cost: float | None  # None when the model has no price
    exact_tokens: bool  # counted with the model's tokenizer, not estimated


def plan_batch(
    inputs: Iterable[InputItem | Article],
    config: ModelConfig,
    *,
    out_dir: Path | None = None,
    options: BatchOptions | None = None,
) -> BatchPlan:
    """Count the articles, tokens and cost a run would take, sending nothing."""
    options = options or BatchOptions()
    count, exact = token_counter(config.model)
    extractor = Extractor(config, api_key="dry-run: nothing is sent")
    static = {k: v for k, v in extractor.request_for(_PROBE).items() if k != "messages"}
    fixed = count(json.dumps(static)) + count(extractor.prompts.system)
    ledger = Ledger(out_dir / LEDGER_NAME) if out_dir and (out_dir / LEDGER_NAME).exists() else None
    articles = unreadable = done = prompt = 0
    try:
        for raw in inputs:
            item = raw if isinstance(raw, InputItem) else InputItem(_location(raw), article=raw)
            row = ledger.get(item.id) if ledger else None
            if row is not None and row.status is Status.DONE:
                done += 1
            elif item.article is None:
                unreadable += 1
            else:
                try:
                    messages = extractor.request_for(item.article)["messages"]
                except ArticleError:
                    unreadable += 1
                    continue
                articles += 1
                prompt += fixed + count(messages[-1]["content"]) + _MESSAGE_OVERHEAD
    finally:
        if ledger is not None:
            ledger.close()
    completion = articles * options.expected_output_tokens
    price = price_for(config.model, options.prices)
    return BatchPlan(
        articles=articles,
        unreadable=unreadable,
        already_done=done,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=price.cost(prompt, completion) if price else None,
        exact_tokens=exact,
    )


# Chat formatting adds a few tokens per message around the contents counted.
_MESSAGE_OVERHEAD = 8
_PROBE = Article.from_text("probe")
