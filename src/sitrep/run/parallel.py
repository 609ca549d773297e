"""Work spread over processes, results in input order, a bounded number of inputs ahead.

Reducing a web page to its article is CPU work in pure Python (trafilatura over lxml), and a
pure function of the page, so `ordered_map` hands pages to worker processes while the inputs
that need no work (plain text, skipped records, failures found while reading) pass straight
through. What comes out is what would have come out in one process, in the same order: the
entries are read in the parent, at most `ahead` of them (and so at most `ahead` pages' bytes)
are held between being read and being yielded, and a job's result waits its turn.

Workers start by `forkserver` (`spawn` where there is none), never by a bare fork of a parent
that runs an event loop and its threads, and ignore Ctrl-C: the parent decides, and closing the
iterator (the end of the inputs, an error, an interrupt) cancels what was not started and waits
for the few jobs running. A job that raises fails alone (`failed` turns the exception into its
result); one whose worker dies (killed, out of memory, a crash in a C extension) is run again
alone in a process of its own, so that the one that kills its process is the one that fails.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Final, Generic, TypeVar, cast

Job = TypeVar("Job")
Done = TypeVar("Done")

# Jobs queued per worker: enough that a worker finds its next page waiting, few enough that the
# pages held are a few megabytes.
AHEAD_PER_WORKER: Final = 4


class WorkerDiedError(RuntimeError):
    """The process running a job ended without an answer, with the job alone in it."""


def ordered_map(
    entries: Iterable[Done | Job],
    work: Callable[[Job], Done],
    *,
    job_type: type[Job],
    failed: Callable[[Job, Exception], Done],
    workers: int,
    ahead: int | None = None,
) -> Generator[Done, None, None]:
    """Each entry that is a `job_type` as `work(entry)`, every other entry as it is, in order.
    `work` runs in `workers` processes (in this one when `workers` is 1), and must be a
    module-level function, its jobs and results picklable. An exception `work` raises, or the
    death of its process, becomes `failed(job, exception)`. Close the generator to stop the
    workers before its end."""
    if workers <= 1:
        for entry in entries:
            yield (
                _attempt(work, failed, entry) if isinstance(entry, job_type) else cast(Done, entry)
            )
        return
    pools = _Pools(work, failed, workers)
    window = max(ahead or workers * AHEAD_PER_WORKER, 1)
    pending: deque[_Slot[Job, Done]] = deque()
    try:
        for entry in entries:
            if isinstance(entry, job_type):
                pending.append(pools.submit(entry))
            else:
                pending.append(_Slot(done=(cast(Done, entry),)))
            while pending and (len(pending) >= window or pending[0].ready()):
                yield pools.result(pending.popleft())
        while pending:
            yield pools.result(pending.popleft())
    finally:
        pools.close()


def _attempt(
    work: Callable[[Job], Done], failed: Callable[[Job, Exception], Done], job: Job
) -> Done:
    try:
        return work(job)
    except Exception as exc:  # the job's failure is its result, as in a worker
        return failed(job, exc)


@dataclass(slots=True)
class _Slot(Generic[Job, Done]):
    """An entry on its way out: its result already (`done`), or its job and the future."""

    done: tuple[Done] | None = None
    job: Job | None = None
    future: Future[Done] | None = None
    pool: ProcessPoolExecutor | None = None

    def ready(self) -> bool:
        return self.future is None or self.future.done()


def _ignore_interrupts() -> None:
    """A worker's start: Ctrl-C reaches the whole process group, and only the parent acts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class _Pools(Generic[Job, Done]):
    """The workers, and a one-process pool that runs alone the jobs whose worker died."""

    def __init__(
        self, work: Callable[[Job], Done], failed: Callable[[Job, Exception], Done], workers: int
    ) -> None:
        self._work = work
        self._failed = failed
        self._workers = workers
        self._main: ProcessPoolExecutor | None = None
        self._alone: ProcessPoolExecutor | None = None
        self._retired: list[ProcessPoolExecutor] = []

    def _pool(self, size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, mp_context=_context(), initializer=_ignore_interrupts)

    def submit(self, job: Job) -> _Slot[Job, Done]:
        if self._main is None:
            self._main = self._pool(self._workers)
        try:
            return _Slot(job=job, future=self._main.submit(self._work, job), pool=self._main)
        except BrokenProcessPool:
            self._retire_main()
            return self.submit(job)

    def result(self, slot: _Slot[Job, Done]) -> Done:
        if slot.done is not None:
            return slot.done[0]
        assert slot.job is not None
        assert slot.future is not None
        try:
            return slot.future.result()
        except BrokenProcessPool:
            if slot.pool is self._main:
                self._retire_main()
            return self._run_alone(slot.job)
        except Exception as exc:
            return self._failed(slot.job, exc)

    def _retire_main(self) -> None:
        if self._main is not None:
            self._retired.append(self._main)
            self._main = None

    def _run_alone(self, job: Job) -> Done:
        if self._alone is None:
            self._alone = self._pool(1)
        try:
            return self._alone.submit(self._work, job).result()
        except BrokenProcessPool:
            self._retired.append(self._alone)
            self._alone = None
            died = WorkerDiedError("the process reading it ended abruptly (killed, or a crash)")
            return self._failed(job, died)
        except Exception as exc:
            return self._failed(job, exc)

    def close(self) -> None:
        """Cancel the jobs not started and wait for the running ones (milliseconds each)."""
        for pool in (self._main, self._alone, *self._retired):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self._main = self._alone = None
        self._retired.clear()


__all__ = ["AHEAD_PER_WORKER", "WorkerDiedError", "ordered_map"]
