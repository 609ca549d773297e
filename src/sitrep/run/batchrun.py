"""The Batch API path of a run (`sitrep run --batch-api`): the same articles, requests and
checks as the interactive path, the requests sent as OpenAI batch files at batch prices.

A run goes in rounds, each of which any later run can take up:

    advance   jobs an earlier run left prepared (written) or uploaded: uploaded, created
    collect   every submitted job polled; a final one's output and error files read into the
              ledger (`BatchBook.collect`): answers as calls, failed lines with their reasons
    drive     the archive read again; each pending article's conversations replayed from the
              answers the ledger holds, through the same `Conversation` step as the
              interactive path (`Extractor.conversations`): an article whose every answer is
              there is finished (records, or a failure with its reason); one still missing
              answers names the requests to send (every chunk's first request at once, a
              re-ask once its answer is known)
    submit    each request wanted written to an input file as the drive comes to it, within
              the limits (`batchfiles`); each full file written down with its custom_ids as
              a job; after the drive, every job uploaded and created as a batch
    wait      polled with backoff until a batch is final, then round again; or, without
              `wait`, return: the next run (or `sitrep batches DIR --wait`) goes on

Nothing is kept in memory between rounds but counts: the ledger is the state, so a process
stopped at any instant resumes where it was, and a request is in at most one open batch at a
time (a request that is submitted is waited for, never submitted again). A line that failed
(a 429 or 5xx inside it, an answer the server stopped early) is submitted again, up to
`BatchApiOptions.max_line_attempts` in all; a line a batch never ran (it expired or was
cancelled first) is submitted again without counting as a failure, up to `max_submissions`
submissions in all; a line refused as a bad request fails its article at once. Re-asks of
invalid answers go in the next batch, or at once to the interactive endpoint with
`ReaskRoute.INTERACTIVE`.

With `BatchOptions.retry_failed`, a failed article is reopened and asked afresh
(`BatchBook.retry`): only the answers logged, and the submissions made, after that count for
it, so none of its old answers is replayed and its failed lines get their attempts anew.

Each answer is priced where it was bought: batch lines at batch prices (`Price.for_batch`), an
interactive re-ask at the standard price. The cost ceiling counts what this run has finished
plus the estimates, at batch prices, of the articles waiting on batches; no new article is
submitted past it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from sitrep.errors import (
    ArticleError,
    BadRequestError,
    ExtractionError,
    SitrepError,
    TransportError,
)
from sitrep.extract.conversation import Conversation
from sitrep.extract.extractor import Extractor, chunk_of, join_chunks, name_failed_chunk
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.model.schemas import schema_version
from sitrep.model.usage import TokenUsage, usage_from_body
from sitrep.run.batchapi import BatchClient
from sitrep.run.batchbook import BatchBook, JobState, LineState, RequestHistory
from sitrep.run.batchfiles import BatchRequest
from sitrep.run.batchjobs import BATCH_DIR, BatchJobs, JobWriter
from sitrep.run.budget import Budget, price_for
from sitrep.run.ledger import ArticleStatus
from sitrep.run.readers import InputItem, most_first
from sitrep.run.scheduler import (
    LEDGER_COMMIT_INTERVAL,
    BatchProgress,
    BatchSummary,
    RunCounts,
    article_outcome,
)
from sitrep.run.store import RunStore
from sitrep.settings import BatchApiOptions, BatchOptions, ModelConfig, Price, ReaskRoute
from sitrep.text.chunks import Chunk
from sitrep.wire.calls import NO_STATUS, encode_request, request_hash
from sitrep.wire.faults import is_transient_status
from sitrep.wire.pacing import Pacer
from sitrep.wire.sender import chat_completions_path


@dataclass(frozen=True, slots=True)
class BatchApiSummary:
    """A Batch API run's summary: the run's as ever, and where its batches stand."""

    summary: BatchSummary
    jobs: dict[str, int]  # batch files by state over every run: prepared ... collected
    waiting: int  # requests in batches not yet collected
    submitted: int  # requests this run submitted
    batch_cost: float  # every batch line so far, at batch prices


@dataclass(slots=True)
class _Counts(RunCounts):
    waiting: int = 0  # articles waiting on batches, in the latest round
    submitted: int = 0  # requests submitted
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost: float = 0.0
    cache_saving: float = 0.0


class _Waiting(Exception):  # noqa: N818  (control flow, not an error; never raised out)
    """A conversation's next answer is not in the ledger yet: `requests` are to be submitted
    for it (none while the one it needs is in a batch already)."""

    def __init__(self, requests: list[BatchRequest]) -> None:
        super().__init__()
        self.requests = requests


async def run_batch_api(
    inputs: Callable[[], Iterable[InputItem | Article]],
    config: ModelConfig,
    *,
    api_key: str,
    out_dir: Path,
    options: BatchOptions | None = None,
    batch: BatchApiOptions | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
) -> BatchApiSummary:
    """Extract every input into `out_dir` through the Batch API, resuming what was left there.

    `inputs` is called once a round and must yield the same archive each time. With
    `batch.wait` (the default) this returns once every batch is collected and every article
    finished; without it, once this round's batches are submitted. `stop`, once set, ends the
    run at the next step; every batch submitted goes on at the server and is collected by the
    next run.
    """
    options = options or BatchOptions()
    batch = batch or BatchApiOptions()
    stop = stop or asyncio.Event()
    with RunStore.open(out_dir, commit_interval=LEDGER_COMMIT_INTERVAL) as store:
        http = httpx2.AsyncClient(transport=transport) if transport is not None else None
        run = _BatchRun(
            store,
            config=config,
            api_key=api_key,
            options=options,
            batch=batch,
            http=http,
            on_progress=on_progress,
        )
        committer = asyncio.create_task(_commit_periodically(store))
        try:
            stopped = await run.rounds(inputs, stop)
        finally:
            committer.cancel()
            await run.close()
            if http is not None:
                await http.aclose()
        return run.summary(out_dir, stopped)


async def _commit_periodically(store: RunStore) -> None:
    while True:
        await asyncio.sleep(LEDGER_COMMIT_INTERVAL)
        store.ledger.commit()


class _BatchRun:
    def __init__(
        self,
        store: RunStore,
        *,
        config: ModelConfig,
        api_key: str,
        options: BatchOptions,
        batch: BatchApiOptions,
        http: httpx2.AsyncClient | None,
        on_progress: Callable[[BatchProgress], None] | None,
    ) -> None:
        self.store = store
        self.book = BatchBook(store.ledger)
        self.config = config
        self.options = options
        self.batch = batch
        self.on_progress = on_progress
        self.client = BatchClient(
            config, api_key=api_key, completion_window=batch.completion_window, http_client=http
        )
        # The interactive side: conversations, and re-asks sent at once when asked to.
        self.extractor = Extractor(
            config,
            api_key=api_key,
            async_http_client=http,
            call_log=store.ledger,
            cache=store.ledger,
            pacer=Pacer(options.concurrency, rpm=options.rpm, tpm=options.tpm),
        )
        self.price = price_for(config.model, options.prices)
        self.batch_price: Price | None = self.price.for_batch() if self.price else None
        self.budget = Budget(
            self.batch_price,
            max_cost=options.max_cost,
            expected_output_tokens=min(options.expected_output_tokens, config.max_output_tokens),
            fixed_request_chars=self.extractor.requests.fixed_chars,
            chunks=self.extractor.chunks,
        )
        self.path = chat_completions_path(config.base_url)
        self.counts = _Counts()
        self.started = time.monotonic()
        # Articles asked afresh (`BatchOptions.retry_failed`): any in the ledger, and those
        # reopened by this run whose requests are not yet submitted.
        self.any_retried = False
        self.retried: set[str] = set()
        self.jobs = BatchJobs(
            self.book,
            self.client,
            store.directory / BATCH_DIR,
            config=config,
            options=batch,
            batch_price=self.batch_price,
        )

    async def close(self) -> None:
        await self.client.close()
        await self.extractor.aclose()

    # The rounds

    async def rounds(
        self, inputs: Callable[[], Iterable[InputItem | Article]], stop: asyncio.Event
    ) -> str | None:
        jobs = self.jobs
        jobs.remove_unlisted()
        await jobs.advance(stop)  # what an earlier run left prepared or uploaded
        first = True
        while not stop.is_set():
            await jobs.collect(stop)
            if stop.is_set():
                break
            submitted, ceiling = await self.drive(inputs(), stop, first=first)
            first = False
            if submitted:
                self.counts.submitted += submitted
                await jobs.advance(stop)
            if stop.is_set():
                break
            if not self.book.jobs(JobState.SUBMITTED):
                return "cost ceiling" if ceiling else None
            if not self.batch.wait:
                return "waiting on batches"
            await jobs.wait_for_any(stop, on_poll=self._progress)  # a sign of life
        return "stopped"

    # The drive: every pending article replayed from the answers held

    async def drive(
        self, items: Iterable[InputItem | Article], stop: asyncio.Event, *, first: bool
    ) -> tuple[int, bool]:
        """One pass over the archive, the requests wanted written to input files as they come
        (each full file written down as a job); how many, and whether the ceiling held any
        article back."""
        self.counts.waiting = 0
        writer = self.jobs.writer(
            prompt_version=self.extractor.prompts.version, schema_version=schema_version()
        )
        try:
            ceiling = await self._drive(items, writer, stop, first=first)
        finally:
            writer.close()  # what was written is written down, even on the way out
            if callable(close := getattr(items, "close", None)):
                close()  # `read_archives` stops its page-reading processes
        return writer.requests, ceiling

    async def _drive(
        self,
        items: Iterable[InputItem | Article],
        writer: JobWriter,
        stop: asyncio.Event,
        *,
        first: bool,
    ) -> bool:
        queued: set[str] = set()
        seen: set[str] = set()
        reserved = 0.0
        ceiling = False
        self.any_retried = self.book.any_retried()
        for raw in items:
            if stop.is_set():
                break
            item = raw if isinstance(raw, InputItem) else InputItem.from_article(raw)
            article = self._admit(item, seen, first=first)
            if article is None:
                continue
            row = self.store.ledger.get(article.id)
            fresh = (row is not None and row.attempts == 0) or article.id in self.retried
            if fresh and self.options.max_cost is not None:
                estimate = self.budget.estimate(article)
                if self.counts.cost + reserved + estimate > self.options.max_cost:
                    ceiling = True
                    self.counts.deferred += first
                    continue
            wanted = await self._drive_article(article)
            if wanted is None:
                continue
            if fresh:
                self.store.ledger.start(article.id)
                self.retried.discard(article.id)
            reserved += self.budget.estimate(article)
            self.counts.waiting += 1
            for request in wanted:
                if request.request_hash not in queued:
                    queued.add(request.request_hash)
                    writer.add(request)
        return ceiling

    def _admit(self, item: InputItem, seen: set[str], *, first: bool) -> Article | None:
        """Record the input as the interactive scheduler does; the article if it is pending."""
        ledger = self.store.ledger
        if item.skipped is not None:
            if first:
                ledger.add_skipped(item.location, item.skipped)
                self.counts.not_read[item.skipped] += 1
            return None
        self.counts.read += first
        row = ledger.get(item.id)
        if item.id in seen or (row is not None and row.location != item.location):
            self.counts.duplicates += first
            ledger.add_duplicate(item.id, item.location)
            return None
        seen.add(item.id)
        if first and self.options.retry_failed and row and row.status is ArticleStatus.FAILED:
            self.book.retry(item.id)  # asked afresh: what it was answered before is not used
            self.any_retried = True
            self.retried.add(item.id)
            row = ledger.get(item.id)
        if row is not None and row.status is not ArticleStatus.PENDING:
            self.counts.skipped += first
            return None
        if row is None:
            ledger.add_pending(item.id, item.location)
        if item.article is None:
            ledger.start(item.id)
            self._fail(item.id, "input", item.error or "unreadable", usage=TokenUsage(), cost=0.0)
            return None
        return item.article

    async def _drive_article(self, article: Article) -> list[BatchRequest] | None:
        """Finish `article` if every answer it needs is held; else the requests it waits on."""
        try:
            conversations = self.extractor.conversations(article)
        except ArticleError as exc:
            self.store.ledger.start(article.id)
            self._fail(article.id, "article", str(exc), usage=TokenUsage(), cost=0.0)
            return None
        since = self.book.since(article.id) if self.any_retried else (0, 0)
        wanted: list[BatchRequest] = []
        waiting = False
        cost = [0.0]  # what the answers replayed cost, each at the price it was bought at
        done: list[tuple[Chunk, Extraction]] = []
        for conversation in conversations:
            try:
                extraction = await self._converse(conversation, cost, since)
                done.append((chunk_of(conversation), extraction))
            except _Waiting as missing:
                waiting = True
                wanted.extend(missing.requests)
            except SitrepError as exc:
                name_failed_chunk(exc, conversation, done)
                usage = exc.usage if isinstance(exc, ExtractionError) else TokenUsage()
                self._fail(
                    article.id,
                    _kind(exc),
                    str(exc),
                    usage=usage,
                    cost=cost[0],
                    chunks=len(conversations),
                )
                return None
        if waiting:
            return wanted
        self._done(article, join_chunks(article, done), cost[0])
        return None

    async def _converse(
        self, conversation: Conversation, cost: list[float], since: tuple[int, int]
    ) -> Extraction:
        """Replay the conversation from the answers held (those logged after `since`'s call,
        for an article asked afresh); raise `_Waiting` with the request it needs next when an
        answer is missing."""
        while True:
            body = encode_request(conversation.request)
            digest = request_hash("POST", self.path, body)
            held = self.book.answer(digest, after=since[0])
            if held is None:
                if self.batch.reask is ReaskRoute.INTERACTIVE and conversation.reasks > 0:
                    before = conversation.usage
                    step = await self.extractor.astep(conversation, fresh=since != (0, 0))
                    cost[0] += _cost(self.price, _less(conversation.usage, before))
                else:
                    self._want(digest, body, conversation.article.id, after=since[1])
            else:
                answer = json.loads(held.body)
                price = self.batch_price if held.batch_id is not None else self.price
                cost[0] += _cost(price, usage_from_body(answer) or TokenUsage())
                step = conversation.receive(answer, request_id=held.request_id)
            if isinstance(step, Extraction):
                return step

    def _want(self, digest: str, body: bytes, article_id: str, *, after: int) -> None:
        """Raise `_Waiting`: with the request to submit, or with none while it is submitted
        (even from before the article was asked afresh: its answer will be new)."""
        latest = self.book.history(digest)
        if latest is not None and latest.state is LineState.SUBMITTED:
            raise _Waiting([])
        history = self.book.history(digest, after=after) if after else latest
        if history is not None and history.state is LineState.FAILED:
            _give_up_if_spent(history, self.batch.max_line_attempts)
        if history is not None and history.submissions >= self.batch.max_submissions:
            raise TransportError(
                f"the request was submitted {history.submissions} times and never answered; "
                f"the last batch: {history.error or 'no reason given'}"
            )
        custom_id = self.book.next_custom_id(digest)
        raise _Waiting([BatchRequest(custom_id, digest, article_id, body)])

    # Finishing articles

    def _done(self, article: Article, extraction: Extraction, cost: float) -> None:
        usage = extraction.provenance.usage
        outcome = article_outcome(
            self.extractor,
            usage,
            self._tally(usage, cost),
            incidents=len(extraction.incidents),
            statistics=len(extraction.statistics),
            chunks=extraction.provenance.chunks,
        )
        self.store.finish_done(article, extraction, outcome)
        self.counts.extracted_one(extraction)
        self._progress()

    def _fail(
        self,
        article_id: str,
        kind: str,
        reason: str,
        *,
        usage: TokenUsage,
        cost: float,
        chunks: int | None = None,
    ) -> None:
        charged = self._tally(usage, cost)
        outcome = article_outcome(
            self.extractor, usage, charged, error_kind=kind, error=reason, chunks=chunks
        )
        self.store.finish_failed(article_id, outcome)
        self.counts.failed += 1
        self._progress()

    def _tally(self, usage: TokenUsage, cost: float) -> float | None:
        """Count a finished article's usage and cost in the run's; its cost for the ledger
        (None when the model has no price)."""
        counts = self.counts
        counts.usage = counts.usage + usage
        counts.cost += cost
        if self.batch_price is not None:
            counts.cache_saving += self.batch_price.saving(usage.cached_tokens)
        return cost if self.price is not None else None

    # Reporting

    def progress(self) -> BatchProgress:
        c = self.counts
        priced = self.price is not None
        return BatchProgress(
            read=c.read,
            extracted=c.extracted,
            failed=c.failed,
            skipped=c.skipped,
            duplicates=c.duplicates,
            deferred=c.deferred,
            not_read=c.not_read.total(),
            in_flight=c.waiting,
            incidents=c.incidents,
            statistics=c.statistics,
            prompt_tokens=c.usage.prompt_tokens,
            completion_tokens=c.usage.completion_tokens,
            cached_tokens=c.usage.cached_tokens,
            cost=c.cost if priced else None,
            cache_saving=c.cache_saving if priced else None,
            elapsed=time.monotonic() - self.started,
        )

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress())

    def summary(self, out_dir: Path, stopped: str | None) -> BatchApiSummary:
        ledger = self.store.ledger
        counts = ledger.counts()
        jobs = Counter(job.state.value for job in self.book.jobs())
        return BatchApiSummary(
            summary=BatchSummary(
                run=self.progress(),
                done=counts[ArticleStatus.DONE],
                failed=counts[ArticleStatus.FAILED],
                pending=counts[ArticleStatus.PENDING],
                stopped=stopped,
                output_dir=out_dir,
                not_read=most_first(self.counts.not_read),
                not_read_all_runs=ledger.skipped_counts(),
            ),
            jobs={state.value: jobs.get(state.value, 0) for state in JobState},
            waiting=self.book.waiting(),
            submitted=self.counts.submitted,
            batch_cost=self.book.spent(),
        )


def _give_up_if_spent(history: RequestHistory, attempts: int) -> None:
    """Fail a request whose line failed for good: a bad request at once, others when spent."""
    status = history.status if history.status is not None else NO_STATUS
    reason = history.error or f"status {status}"
    # A 2xx line fails only when the server stopped its answer early: a transport fault.
    if status != NO_STATUS and not 200 <= status < 300 and not is_transient_status(status):
        raise BadRequestError(
            f"the batch line was refused ({status}): {reason}", status_code=status
        )
    if history.failures >= attempts:
        times = "once" if history.failures == 1 else f"{history.failures} times"
        raise TransportError(f"the request's batch line failed {times}; the last: {reason}")


def _kind(exc: SitrepError) -> str:
    return "article" if isinstance(exc, ArticleError) else type(exc).__name__


def _cost(price: Price | None, usage: TokenUsage) -> float:
    if price is None:
        return 0.0
    return price.cost(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)


def _less(after: TokenUsage, before: TokenUsage) -> TokenUsage:
    return TokenUsage(
        prompt_tokens=after.prompt_tokens - before.prompt_tokens,
        completion_tokens=after.completion_tokens - before.completion_tokens,
        total_tokens=after.total_tokens - before.total_tokens,
        cached_tokens=after.cached_tokens - before.cached_tokens,
    )
