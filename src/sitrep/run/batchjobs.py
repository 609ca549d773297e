"""Batch jobs from written to collected: the lifecycle the Batch API path and `sitrep batches`
share, over the ledger's book (`BatchBook`) and the server (`BatchClient`).

    prepare   requests → input files within the limits as they come (`JobWriter`), each
              written down as a job once full; files no job names (a run killed while
              writing them) deleted
    advance   prepared → uploaded → submitted; before creating a batch, the server is asked
              for one made from the same file already (a run stopped between creating it and
              writing its id down), so that no file is ever submitted twice
    collect   a submitted job polled; once final, its output and error files read into the
              ledger and the job closed; its input file deleted
    wait      polled with backoff (`BatchApiOptions.poll_*`) until some batch is final
    cancel    every open batch cancelled; jobs never submitted are closed with every request
              unfinished

A file uploaded by a run stopped before it wrote the file's id down is uploaded again by the
next: the first copy is never submitted (the server's Files listing is not relied on).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx2

from sitrep.errors import OutputError
from sitrep.run.batchapi import BatchClient, BatchView
from sitrep.run.batchbook import BatchBook, Job, JobState, LineState
from sitrep.run.batchfiles import BatchRequest, InputFile, InputFileWriter, read_result_lines
from sitrep.run.budget import price_for
from sitrep.run.ledger import LEDGER_NAME
from sitrep.run.store import RunStore
from sitrep.settings import BatchApiOptions, BatchOptions, ModelConfig, Price

BATCH_DIR = "batches"  # under the output directory: input files, kept until collected


@dataclass(frozen=True, slots=True)
class JobReport:
    """One batch file as `sitrep batches` shows it."""

    id: int
    file_name: str
    state: str
    batch_id: str | None
    status: str | None
    requests: int
    # Lines answered and failed: the server's counts for an open batch (when it was asked), the
    # ledger's for a collected one.
    completed: int | None
    failed: int | None


class JobWriter:
    """Requests written into input files as they come (`InputFileWriter`); each file, once
    closed and synced, written down as a `prepared` job with its requests."""

    def __init__(
        self,
        book: BatchBook,
        files: InputFileWriter,
        config: ModelConfig,
        versions: tuple[str, str],
    ) -> None:
        self._book = book
        self._files = files
        self._config = config
        self._versions = versions
        self.requests = 0
        self.files = 0

    def add(self, request: BatchRequest) -> None:
        self.requests += 1
        if (finished := self._files.add(request)) is not None:
            self._write_down(finished)

    def close(self) -> int:
        """Write the last file down; how many files were written."""
        if (last := self._files.close()) is not None:
            self._write_down(last)
        return self.files

    def _write_down(self, file: InputFile) -> None:
        self._book.add_job(file, self._config, *self._versions)
        self.files += 1


class BatchJobs:
    def __init__(
        self,
        book: BatchBook,
        client: BatchClient,
        directory: Path,
        *,
        config: ModelConfig,
        options: BatchApiOptions,
        batch_price: Price | None,
    ) -> None:
        self.book = book
        self.client = client
        self.directory = directory
        self.config = config
        self.options = options
        self.batch_price = batch_price
        self.problems: list[str] = []  # result lines that could not be read or matched

    def writer(self, *, prompt_version: str, schema_version: str) -> JobWriter:
        """A writer of requests into input files, each written down as a job once it is full."""
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        files = InputFileWriter(
            self.directory,
            name=name,
            max_requests=self.options.max_requests_per_file,
            max_bytes=self.options.max_file_bytes,
        )
        return JobWriter(self.book, files, self.config, (prompt_version, schema_version))

    def remove_unlisted(self) -> None:
        """Delete input files no open job names: a run stopped while it wrote them never wrote
        them down, and their requests are asked for again."""
        listed = {job.file_name for job in self.book.jobs() if job.state is not JobState.COLLECTED}
        for path in self.directory.glob("*.jsonl"):
            if path.name not in listed:
                path.unlink(missing_ok=True)

    async def advance(self, stop: asyncio.Event) -> None:
        """Take every prepared job to uploaded and every uploaded one to submitted."""
        for waiting in self.book.jobs(JobState.PREPARED, JobState.UPLOADED):
            if stop.is_set():
                return
            job = waiting
            if job.state is JobState.PREPARED:
                content = (self.directory / job.file_name).read_bytes()
                self.book.uploaded(job, await self.client.upload(job.file_name, content))
                job = self.book.job(job.id)
            assert job.input_file_id is not None
            found = await self.client.find(job.input_file_id)
            view = found or await self.client.create(
                job.input_file_id, {"sitrep_file": job.file_name}
            )
            self.book.submitted(job, view)

    async def collect(self, stop: asyncio.Event) -> list[BatchView]:
        """Poll every submitted job once and collect the final ones; the open ones' views."""
        still_open = []
        for job in self.book.jobs(JobState.SUBMITTED):
            if stop.is_set():
                break
            assert job.batch_id is not None
            view = await self.client.retrieve(job.batch_id)
            if view.final:
                await self._collect(job, view)
            else:
                self.book.seen(job, view)
                still_open.append(view)
        return still_open

    async def _collect(self, job: Job, view: BatchView) -> None:
        lines = []
        for file_id in (view.output_file_id, view.error_file_id):
            if file_id:
                found, problems = read_result_lines(await self.client.content(file_id))
                lines.extend(found)
                self.problems.extend(f"{file_id} {problem}" for problem in problems)
        collected = self.book.collect(job, view, lines, config=self.config, price=self.batch_price)
        self.problems.extend(collected.problems)
        (self.directory / job.file_name).unlink(missing_ok=True)

    async def wait_for_any(
        self, stop: asyncio.Event, on_poll: Callable[[], None] | None = None
    ) -> None:
        """Poll with backoff until a submitted batch is final, none is open, or `stop` is set;
        `on_poll` is called after each poll that finds them all still open."""
        interval = self.options.poll_initial
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            jobs = self.book.jobs(JobState.SUBMITTED)
            if stop.is_set() or not jobs:
                return
            for job in jobs:
                assert job.batch_id is not None
                view = await self.client.retrieve(job.batch_id)
                if view.final:
                    return  # collected by the caller's next `collect`
                self.book.seen(job, view)
            if on_poll is not None:
                on_poll()
            interval = min(interval * self.options.poll_factor, self.options.poll_max)

    async def wait_all(self, stop: asyncio.Event) -> None:
        """Collect every submitted job, waiting for each to be final."""
        await self.collect(stop)
        while self.book.jobs(JobState.SUBMITTED) and not stop.is_set():
            await self.wait_for_any(stop)
            await self.collect(stop)

    async def cancel(self, stop: asyncio.Event) -> None:
        """Cancel every open batch and collect it once cancelled; close the jobs never sent."""
        for job in self.book.jobs(JobState.PREPARED, JobState.UPLOADED):
            self.book.close_unsent(job)
            (self.directory / job.file_name).unlink(missing_ok=True)
        for job in self.book.jobs(JobState.SUBMITTED):
            assert job.batch_id is not None
            view = await self.client.retrieve(job.batch_id)
            if not view.final and view.status != "cancelling":
                await self.client.cancel(job.batch_id)
        await self.wait_all(stop)

    async def reports(self, *, ask: bool) -> list[JobReport]:
        """Every job, newest last; with `ask`, the open ones' status fresh from the server."""
        reports = []
        for job in self.book.jobs():
            completed = failed = None
            status = job.status
            if ask and job.state is JobState.SUBMITTED and job.batch_id is not None:
                view = await self.client.retrieve(job.batch_id)
                self.book.seen(job, view)
                status, completed, failed = view.status, view.completed, view.failed
            elif job.state is JobState.COLLECTED:
                lines = self.book.line_counts(job)
                completed, failed = lines[LineState.ANSWERED], lines[LineState.FAILED]
            reports.append(
                JobReport(
                    job.id,
                    job.file_name,
                    job.state.value,
                    job.batch_id,
                    status,
                    job.requests,
                    completed,
                    failed,
                )
            )
        return reports


class BatchAction(StrEnum):
    """What `sitrep batches DIR` does: show, wait for and collect, or cancel the batches."""

    STATUS = "status"
    WAIT = "wait"
    CANCEL = "cancel"


async def manage_batches(
    out_dir: Path,
    config: ModelConfig,
    *,
    api_key: str,
    action: BatchAction = BatchAction.STATUS,
    options: BatchOptions | None = None,
    batch: BatchApiOptions | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    stop: asyncio.Event | None = None,
) -> list[JobReport]:
    """The batch files of the run in `out_dir`, after `action`.

    STATUS asks the server for each open batch's status; WAIT submits what a stopped run left
    prepared, then polls with backoff and collects every batch into the ledger (the next
    `run_batch_api` over the same archive turns their answers into records); CANCEL cancels
    every open batch and collects what each finished (its other requests go in the next run's
    batches).
    """
    if not (out_dir / LEDGER_NAME).exists():
        raise OutputError(f"{out_dir} holds no sitrep run (no {LEDGER_NAME})")
    options = options or BatchOptions()
    batch = batch or BatchApiOptions()
    stop = stop or asyncio.Event()
    price = price_for(config.model, options.prices)
    with RunStore.open(out_dir) as store:
        http = httpx2.AsyncClient(transport=transport) if transport is not None else None
        client = BatchClient(
            config, api_key=api_key, completion_window=batch.completion_window, http_client=http
        )
        jobs = BatchJobs(
            BatchBook(store.ledger),
            client,
            out_dir / BATCH_DIR,
            config=config,
            options=batch,
            batch_price=price.for_batch() if price is not None else None,
        )
        try:
            if action is BatchAction.WAIT:
                await jobs.advance(stop)
                await jobs.wait_all(stop)
            elif action is BatchAction.CANCEL:
                await jobs.cancel(stop)
            return await jobs.reports(ask=action is BatchAction.STATUS)
        finally:
            await client.close()
            if http is not None:
                await http.aclose()
