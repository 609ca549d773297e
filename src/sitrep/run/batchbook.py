"""The Batch API path's book in the ledger: each batch file and each request in it.

    job:      prepared (file written and synced) → uploaded (its file id) → submitted (its
              batch id) → collected (its output and error files read, its status final)
    request:  submitted (in a job) → answered | failed (its line's status and error) |
              unfinished (the batch ended without running it: expired, cancelled, or no line)

Every step the server was told of is written down before the next is taken, in one ledger
transaction committed at once (`Ledger.atomic`), so a process stopped at any instant resumes
from the step it was at. A request's `custom_id` is the first 20 hex digits of its request
hash and how many times it has been submitted ("3f9c...-1", "-2" when it goes again): unique
by construction, and the primary key says so.

Collecting a job logs each answered line in the call log as a call of its own (status, usage,
raw body, the batch's id and the line's cost at batch prices), where the response cache then
finds it by request hash; a failed line is logged with what it came to. The conversation step
reads answers from there, the same way whichever path brought them.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sitrep.model.usage import usage_from_body
from sitrep.run.batchapi import BatchView
from sitrep.run.batchfiles import InputFile, ResultLine
from sitrep.run.ledger import Ledger
from sitrep.settings import ModelConfig, Price
from sitrep.wire.calls import NO_STATUS, Call
from sitrep.wire.stops import stopped_early

CUSTOM_ID_DIGITS = 20
# Error codes of lines a batch did not run: it expired, or was cancelled, first.
NOT_RUN_CODES = ("batch_expired", "batch_cancelled")


class JobState(StrEnum):
    PREPARED = "prepared"
    UPLOADED = "uploaded"
    SUBMITTED = "submitted"
    COLLECTED = "collected"


class LineState(StrEnum):
    SUBMITTED = "submitted"
    ANSWERED = "answered"
    FAILED = "failed"
    UNFINISHED = "unfinished"


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    state: JobState
    file_name: str
    requests: int
    input_file_id: str | None
    batch_id: str | None
    status: str | None  # the server's, as last seen


@dataclass(frozen=True, slots=True)
class RequestHistory:
    """What became of a request hash's submissions: the latest's state, and how many failed."""

    state: LineState
    status: int | None
    error: str | None
    failures: int
    submissions: int  # failed, unfinished or open, all of them


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """An answer the call log holds for a request: its body, id, and batch (None: interactive)."""

    body: bytes
    request_id: str | None
    batch_id: str | None


@dataclass(frozen=True, slots=True)
class Collected:
    """What collecting one job found."""

    answered: int
    failed: int
    unfinished: int
    problems: list[str]  # lines that could not be read or matched


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class BatchBook:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # Jobs

    def add_job(
        self, file: InputFile, config: ModelConfig, prompt_version: str, schema_version: str
    ) -> Job:
        """Write down a file that is written and synced, and the requests in it, together."""
        now = _now()
        with self.ledger.atomic():
            job_id = self.ledger.write(
                """INSERT INTO batch_jobs (state, file_name, model, prompt_version,
                   schema_version, requests, bytes, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    JobState.PREPARED,
                    file.path.name,
                    config.model,
                    prompt_version,
                    schema_version,
                    len(file.requests),
                    file.size,
                    now,
                    now,
                ),
            )
            for request in file.requests:
                self.ledger.write(
                    """INSERT INTO batch_requests (custom_id, job_id, request_hash, article_id,
                       state) VALUES (?, ?, ?, ?, ?)""",
                    (
                        request.custom_id,
                        job_id,
                        request.request_hash,
                        request.article_id,
                        LineState.SUBMITTED,
                    ),
                )
        return self.job(job_id)

    def job(self, job_id: int) -> Job:
        return self._jobs("WHERE id = ?", (job_id,))[0]

    def jobs(self, *states: JobState) -> list[Job]:
        """The jobs in any of `states` (all of them with none), oldest first."""
        if not states:
            return self._jobs("", ())
        marks = ", ".join("?" * len(states))
        return self._jobs(f"WHERE state IN ({marks})", tuple(states))

    def _jobs(self, where: str, parameters: tuple[object, ...]) -> list[Job]:
        rows = self.ledger.query(
            "SELECT id, state, file_name, requests, input_file_id, batch_id, status "
            f"FROM batch_jobs {where} ORDER BY id",
            parameters,
        )
        return [Job(r[0], JobState(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def uploaded(self, job: Job, file_id: str) -> None:
        with self.ledger.atomic():
            self.ledger.write(
                "UPDATE batch_jobs SET state = ?, input_file_id = ?, updated_at = ? WHERE id = ?",
                (JobState.UPLOADED, file_id, _now(), job.id),
            )

    def submitted(self, job: Job, batch: BatchView) -> None:
        with self.ledger.atomic():
            self.ledger.write(
                "UPDATE batch_jobs SET state = ?, batch_id = ?, status = ?, updated_at = ? "
                "WHERE id = ?",
                (JobState.SUBMITTED, batch.id, batch.status, _now(), job.id),
            )

    def seen(self, job: Job, batch: BatchView) -> None:
        """The batch's status as last polled."""
        self.ledger.write(
            "UPDATE batch_jobs SET status = ?, updated_at = ? WHERE id = ?",
            (batch.status, _now(), job.id),
        )

    def close_unsent(self, job: Job) -> None:
        """Close a job that was never submitted (cancelled first): its requests unfinished."""
        with self.ledger.atomic():
            self.ledger.write(
                "UPDATE batch_requests SET state = ?, error = ?, finished_at = ? "
                "WHERE job_id = ? AND state = ?",
                (LineState.UNFINISHED, "never submitted", _now(), job.id, LineState.SUBMITTED),
            )
            self.ledger.write(
                "UPDATE batch_jobs SET state = ?, status = ?, updated_at = ? WHERE id = ?",
                (JobState.COLLECTED, "not submitted", _now(), job.id),
            )

    def collect(
        self,
        job: Job,
        batch: BatchView,
        lines: list[ResultLine],
        *,
        config: ModelConfig,
        price: Price | None,
    ) -> Collected:
        """Record a final batch's lines and close the job, all in one transaction.

        `price` is the batch price (`Price.for_batch`). A request with no line, or whose line
        says the batch never ran it, is unfinished; a batch that failed validation ran none
        of its lines, and each of its requests fails with the batch's errors.
        """
        mine = {
            custom_id: (request_hash, article_id)
            for custom_id, request_hash, article_id in self.ledger.query(
                "SELECT custom_id, request_hash, article_id FROM batch_requests WHERE job_id = ?",
                (job.id,),
            )
        }
        ((prompt_version, schema_version),) = self.ledger.query(
            "SELECT prompt_version, schema_version FROM batch_jobs WHERE id = ?", (job.id,)
        )
        versions = (str(prompt_version), str(schema_version))
        answered = failed = 0
        problems: list[str] = []
        done: set[str] = set()
        with self.ledger.atomic():
            for line in lines:
                if line.custom_id not in mine or line.custom_id in done:
                    problems.append(f"a line for a request not in this batch: {line.custom_id}")
                    continue
                done.add(line.custom_id)
                request_hash, article_id = mine[line.custom_id]
                state = self._record(
                    line,
                    request_hash=request_hash,
                    article_id=article_id,
                    versions=versions,
                    batch=batch,
                    config=config,
                    price=price,
                )
                answered += state is LineState.ANSWERED
                failed += state is LineState.FAILED
            left = [custom_id for custom_id in mine if custom_id not in done]
            if batch.status == "failed":
                reason = "the batch failed validation: " + ("; ".join(batch.errors) or "no reason")
                for custom_id in left:
                    self._finish(custom_id, LineState.FAILED, NO_STATUS, reason[:2000], None)
                failed += len(left)
                left = []
            for custom_id in left:
                self._finish(custom_id, LineState.UNFINISHED, None, f"batch {batch.status}", None)
            self.ledger.write(
                "UPDATE batch_jobs SET state = ?, status = ?, output_file_id = ?, "
                "error_file_id = ?, updated_at = ? WHERE id = ?",
                (
                    JobState.COLLECTED,
                    batch.status,
                    batch.output_file_id,
                    batch.error_file_id,
                    _now(),
                    job.id,
                ),
            )
        unfinished = len(mine) - answered - failed
        return Collected(answered, failed, unfinished, problems)

    def _record(
        self,
        line: ResultLine,
        *,
        request_hash: str,
        article_id: str,
        versions: tuple[str, str],
        batch: BatchView,
        config: ModelConfig,
        price: Price | None,
    ) -> LineState:
        body = json.loads(line.body) if line.body is not None else None
        usage = usage_from_body(body) if isinstance(body, dict) else None
        cost = None
        if usage is not None and price is not None:
            cost = price.cost(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        outcome = line.error
        if line.answered and isinstance(body, dict):
            stop = stopped_early(body, config)
            outcome = stop.reason() if stop is not None else None
        if outcome is None:
            state = LineState.ANSWERED
        elif line.status == NO_STATUS and (line.error or "").startswith(NOT_RUN_CODES):
            state = LineState.UNFINISHED
        else:
            state = LineState.FAILED
        self.ledger.log_call(
            Call(
                article_id=article_id,
                request_hash=request_hash,
                status=line.status,
                latency_ms=0.0,
                prompt_tokens=usage.prompt_tokens if usage is not None else None,
                completion_tokens=usage.completion_tokens if usage is not None else None,
                request_id=line.request_id,
                response=line.body,
                model=config.model,
                prompt_version=versions[0],
                schema_version=versions[1],
                outcome=outcome,
                cached_tokens=usage.cached_tokens if usage is not None else None,
                batch_id=batch.id,
                cost=cost,
            )
        )
        self._finish(line.custom_id, state, line.status, outcome, cost)
        return state

    def _finish(
        self,
        custom_id: str,
        state: LineState,
        status: int | None,
        error: str | None,
        cost: float | None,
    ) -> None:
        self.ledger.write(
            "UPDATE batch_requests SET state = ?, status = ?, error = ?, cost = ?, "
            "finished_at = ? WHERE custom_id = ?",
            (state, status, error, cost, _now(), custom_id),
        )

    # Requests

    # Articles asked afresh (`--retry-failed`): only what came after the retry counts

    def retry(self, article_id: str) -> None:
        """Reopen a failed article, to be asked afresh: from now on only answers and
        submissions that come after this are its own (`since`)."""
        with self.ledger.atomic():
            self.ledger.write(
                "INSERT OR REPLACE INTO batch_retries VALUES (?, "
                "(SELECT coalesce(max(id), 0) FROM calls), "
                "(SELECT coalesce(max(rowid), 0) FROM batch_requests))",
                (article_id,),
            )
            self.ledger.reopen(article_id)

    def any_retried(self) -> bool:
        return bool(self.ledger.query("SELECT 1 FROM batch_retries LIMIT 1"))

    def since(self, article_id: str) -> tuple[int, int]:
        """The last call and submission before the article was last retried; 0, 0 if never."""
        rows = self.ledger.query(
            "SELECT after_call, after_request FROM batch_retries WHERE article_id = ?",
            (article_id,),
        )
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def next_custom_id(self, request_hash: str) -> str:
        """The custom_id of `request_hash`'s next submission."""
        (count,) = self.ledger.query(
            "SELECT count(*) FROM batch_requests WHERE request_hash = ?", (request_hash,)
        )[0]
        return f"{request_hash[:CUSTOM_ID_DIGITS]}-{int(count) + 1}"

    def history(self, request_hash: str, *, after: int = 0) -> RequestHistory | None:
        """What became of `request_hash` in batches so far (its submissions past the `after`th
        of all); None if it was never submitted."""
        rows = self.ledger.query(
            "SELECT state, status, error FROM batch_requests WHERE request_hash = ? "
            "AND rowid > ? ORDER BY rowid",
            (request_hash, after),
        )
        if not rows:
            return None
        state, status, error = rows[-1]
        failures = sum(row[0] == LineState.FAILED for row in rows)
        return RequestHistory(LineState(state), status, error, failures, len(rows))

    def answer(self, request_hash: str, *, after: int = 0) -> BatchAnswer | None:
        """The latest usable answer to `request_hash` (logged after call `after`), from a
        batch or the interactive path."""
        rows = self.ledger.query(
            "SELECT response, request_id, batch_id FROM calls WHERE request_hash = ? "
            "AND status = 200 AND outcome IS NULL AND response IS NOT NULL AND from_cache = 0 "
            "AND id > ? ORDER BY id DESC LIMIT 1",
            (request_hash, after),
        )
        if not rows:
            return None
        return BatchAnswer(zlib.decompress(rows[0][0]), rows[0][1], rows[0][2])

    def line_counts(self, job: Job) -> dict[LineState, int]:
        """How many of the job's requests are in each state."""
        found = dict(
            self.ledger.query(
                "SELECT state, count(*) FROM batch_requests WHERE job_id = ? GROUP BY state",
                (job.id,),
            )
        )
        return {state: int(found.get(state, 0)) for state in LineState}

    def waiting(self) -> int:
        """Requests in batches not yet collected."""
        return int(
            self.ledger.query(
                "SELECT count(*) FROM batch_requests WHERE state = ?", (LineState.SUBMITTED,)
            )[0][0]
        )

    def spent(self) -> float:
        """What every batch line so far cost, at batch prices."""
        return float(self.ledger.query("SELECT coalesce(sum(cost), 0) FROM batch_requests")[0][0])
