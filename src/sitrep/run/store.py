"""The run's store: an output directory that one run at a time writes, and the atomic finish.

    RunStore.open(out_dir)   hold the directory, open its ledger, cut the outputs back to what
                             the ledger committed
    finish_done(...)         the article's records and text appended, then one ledger
                             transaction marks it done and moves the committed offsets
    finish_failed(...)       the article marked failed with its reason
    (on leaving)             failures.jsonl rewritten from the ledger; everything closed

The scheduler (`sitrep.run.scheduler`) decides what to extract and when; everything it keeps
goes through here, so a run on other machines would need another store, not another scheduler.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from sitrep.errors import OutputError
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.run.ledger import ArticleOutcome, ArticleStatus, Ledger
from sitrep.run.outputs import Outputs, write_failures

# Held by the run writing to an output directory.
LOCK_NAME = "run.lock"


class RunStore:
    def __init__(self, directory: Path, ledger: Ledger, outputs: Outputs) -> None:
        self.directory = directory
        self.ledger = ledger
        self.outputs = outputs

    @classmethod
    @contextlib.contextmanager
    def open(cls, directory: Path, *, commit_interval: float = 0.0) -> Iterator[RunStore]:
        """Hold `directory` for this run; see `Ledger` for `commit_interval`."""
        with (
            _only_run_in(directory),
            contextlib.closing(Ledger.open(directory, commit_interval=commit_interval)) as ledger,
        ):
            outputs = Outputs(directory, ledger)
            try:
                yield cls(directory, ledger, outputs)
            finally:
                write_failures(directory, ledger)
                outputs.close()

    def finish_done(
        self, article: Article, extraction: Extraction, outcome: ArticleOutcome
    ) -> None:
        """Append the article's records and text and mark it done, all or nothing."""
        sizes = self.outputs.sizes()
        committed = self.outputs.append(article, extraction)
        try:
            self.ledger.finish(article.id, ArticleStatus.DONE, outcome, committed=committed)
        except BaseException:
            # The article stays pending: its records must not ride in with the next commit.
            self.outputs.cut_back(sizes)
            raise

    def finish_failed(self, article_id: str, outcome: ArticleOutcome) -> None:
        self.ledger.finish(article_id, ArticleStatus.FAILED, outcome)


@contextlib.contextmanager
def _only_run_in(directory: Path) -> Iterator[None]:
    """Hold `directory`: two runs appending to the same outputs would corrupt them.

    The lock is the operating system's, on a file in `directory`, so it is released when the
    process ends, however it ends.
    """
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise OutputError(
            f"{directory} is in use by another sitrep run: wait for it to end, or use another "
            "output directory"
        ) from None
    try:
        yield
    finally:
        lock.release()
