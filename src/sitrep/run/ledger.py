"""The batch ledger: one SQLite file in the output directory that makes a run resumable.

It holds one row per article (where it came from, status, attempts, error, model, prompt and
schema versions, tokens, cost, times), one per input sitrep does not read by design (its
location and kind: ".pdf files"; counted, never failed), every model call (request hash, status,
usage, latency, model, prompt and schema versions, the raw response, compressed, and for a call
with no usable answer its outcome: status 0 and "request timeout after 600 s", "connection
refused"..., or an answer the server stopped early), and how many bytes of each output file are
committed. It is the send loop's call log and response cache (`sitrep.wire.calls`), and can be
given to an `Extractor` outside a batch as well. A record is in an output only once its
article's row says `done` in the same transaction that moved the committed offset, so a process
killed at any instant resumes with every article exactly once.

An article's row also counts the requests its text was split into (`chunks`: 1 for an article
read whole, more for one too long for one request).

Writes can be grouped (`commit_interval`): they then join one open transaction that is
committed once it is that many seconds old, or on `commit()` and `close()`. A commit costs
several times the write it closes, and the batch writes four times an article. A process killed
before a commit loses only that group: its articles are still pending and their output lines
past the committed offsets are cut off, so the next run does them again, once.

Migrations are named and append-only: add a new entry at the end of `MIGRATIONS`, never edit
one that has shipped.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sitrep.wire.calls import Call

LEDGER_NAME = "ledger.sqlite"

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_articles",
        """
        CREATE TABLE articles (
            id TEXT PRIMARY KEY,
            location TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            error_kind TEXT,
            error TEXT,
            model TEXT,
            prompt_version TEXT,
            schema_version TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL,
            incidents INTEGER NOT NULL DEFAULT 0,
            statistics INTEGER NOT NULL DEFAULT 0,
            first_seen TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT
        );
        CREATE INDEX articles_status ON articles (status);
        CREATE TABLE duplicates (
            article_id TEXT NOT NULL,
            location TEXT NOT NULL,
            PRIMARY KEY (article_id, location)
        );
        """,
    ),
    (
        "0002_calls",
        """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            article_id TEXT,
            request_hash TEXT NOT NULL,
            status INTEGER NOT NULL,
            latency_ms REAL NOT NULL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            request_id TEXT,
            from_cache INTEGER NOT NULL DEFAULT 0,
            response BLOB,
            created_at TEXT NOT NULL
        );
        CREATE INDEX calls_request_hash ON calls (request_hash, status);
        CREATE INDEX calls_article ON calls (article_id);
        """,
    ),
    (
        "0003_outputs",
        """
        CREATE TABLE outputs (
            name TEXT PRIMARY KEY,
            committed_bytes INTEGER NOT NULL
        );
        """,
    ),
    (
        "0004_call_versions",
        """
        ALTER TABLE calls ADD COLUMN model TEXT;
        ALTER TABLE calls ADD COLUMN prompt_version TEXT;
        ALTER TABLE calls ADD COLUMN schema_version TEXT;
        """,
    ),
    (
        # What a call came to when it was not a usable answer: a timeout, a refused or reset
        # connection (status 0, `NO_STATUS`: the column has been NOT NULL since 0002, and only
        # copying the whole table, responses and all, would lift that), or an answer the
        # server stopped early. The response cache never serves such a row.
        "0005_call_outcomes",
        """
        ALTER TABLE calls ADD COLUMN outcome TEXT;
        """,
    ),
    (
        "0006_article_chunks",
        """
        ALTER TABLE articles ADD COLUMN chunks INTEGER;
        """,
    ),
    (
        # One B-tree keyed by location and no index on kind: a crawl can hold millions of
        # records not read, each written once, and they are counted by kind once per run.
        "0007_skipped_inputs",
        """
        CREATE TABLE skipped_inputs (
            location TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            first_seen TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    (
        # Of a call's prompt tokens, those the server answered from its prompt cache (billed
        # at the cached rate); NULL for calls logged before, and where the usage is unknown.
        "0008_cached_tokens",
        """
        ALTER TABLE calls ADD COLUMN cached_tokens INTEGER;
        """,
    ),
    (
        # The OpenAI Batch API path (`sitrep.run.batchbook`): each batch file as it goes from
        # written to collected, and each request in one with its `custom_id` and what became
        # of it. A call answered by a batch line names its batch and carries its cost at
        # batch prices; interactive calls leave both NULL (their cost is their article's).
        "0009_batch_api",
        """
        CREATE TABLE batch_jobs (
            id INTEGER PRIMARY KEY,
            state TEXT NOT NULL
                CHECK (state IN ('prepared', 'uploaded', 'submitted', 'collected')),
            file_name TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            schema_version TEXT NOT NULL,
            requests INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            input_file_id TEXT,
            batch_id TEXT UNIQUE,
            status TEXT,
            output_file_id TEXT,
            error_file_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE batch_requests (
            custom_id TEXT PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES batch_jobs (id),
            request_hash TEXT NOT NULL,
            article_id TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('submitted', 'answered', 'failed', 'unfinished')),
            status INTEGER,
            error TEXT,
            cost REAL,
            finished_at TEXT
        );
        CREATE TABLE batch_retries (
            article_id TEXT PRIMARY KEY,
            after_call INTEGER NOT NULL,
            after_request INTEGER NOT NULL
        );
        CREATE INDEX batch_requests_hash ON batch_requests (request_hash);
        CREATE INDEX batch_requests_job ON batch_requests (job_id);
        ALTER TABLE calls ADD COLUMN batch_id TEXT;
        ALTER TABLE calls ADD COLUMN cost REAL;
        """,
    ),
)


class ArticleStatus(StrEnum):
    PENDING = "pending"  # seen, not finished: never started, in flight when stopped, or over budget
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ArticleRow:
    id: str
    location: str
    status: ArticleStatus
    attempts: int
    error_kind: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ArticleOutcome:
    """What finishing one article writes to its row."""

    model: str | None
    prompt_version: str | None
    schema_version: str | None
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    incidents: int = 0
    statistics: int = 0
    error_kind: str | None = None
    error: str | None = None
    # Requests the article's text was split into (1: read whole); None when it was never split,
    # as for an input that could not be read.
    chunks: int | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Ledger:
    """The ledger of one output directory. Not shared between processes.

    With `commit_interval` 0 every write is committed at once; above 0, writes are grouped into
    transactions committed after that many seconds (module docstring).
    """

    def __init__(self, path: Path, *, commit_interval: float = 0.0) -> None:
        self.path = path
        self._commit_interval = commit_interval
        self._group_began = 0.0
        self._atomic = 0  # depth of `atomic` blocks open: no write commits inside one
        self._closed = False
        # Autocommit mode: transactions are opened explicitly, by `_begin`.
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (not a power cut) and keeps commits fast.
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, directory: Path, *, commit_interval: float = 0.0) -> Ledger:
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / LEDGER_NAME, commit_interval=commit_interval)

    def close(self) -> None:
        """Commit what is grouped and close; closing again does nothing."""
        if self._closed:
            return
        self.commit()
        self._db.close()
        self._closed = True

    def commit(self) -> None:
        """Commit the writes grouped so far, if any; inside `atomic`, when its block ends (a
        COMMIT there would end its savepoint, and land half of what must land together)."""
        if self._db.in_transaction and not self._atomic:
            self._db.execute("COMMIT")

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
            self._group_began = time.monotonic()

    def _end(self) -> None:
        """Commit now, unless writes are grouped and the group is younger than the interval
        (or `atomic` holds them: see `commit`)."""
        if time.monotonic() - self._group_began >= self._commit_interval:
            self.commit()

    # The tables of other stages (the Batch API's, `sitrep.run.batchbook`) go through these:
    # their writes join the same grouped transactions as the ledger's own.

    def query(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of a read."""
        return self._db.execute(sql, parameters).fetchall()

    def write(self, sql: str, parameters: tuple[object, ...] = ()) -> int:
        """One write, grouped as the ledger's own are; returns the row id it inserted."""
        self._begin()
        try:
            return self._db.execute(sql, parameters).lastrowid or 0
        finally:
            self._end()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Writes that land together or not at all, and are committed before this returns:
        what an outside service was told must not be forgotten."""
        self._begin()
        self._db.execute("SAVEPOINT atomic")
        self._atomic += 1
        try:
            yield
            self._db.execute("RELEASE atomic")
        except BaseException:
            self._db.execute("ROLLBACK TO atomic")
            self._db.execute("RELEASE atomic")
            raise
        finally:
            self._atomic -= 1
        if not self._atomic:
            self.commit()

    def _write(self, sql: str, parameters: tuple[object, ...]) -> None:
        self._begin()
        try:
            self._db.execute(sql, parameters)
        finally:
            self._end()

    def _migrate(self) -> None:
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        applied = {row[0] for row in self._db.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in applied:
                continue
            self._db.execute("BEGIN")
            try:
                # One statement at a time inside the transaction (executescript would commit).
                for statement in sql.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("INSERT INTO migrations VALUES (?, ?)", (name, _now()))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def migrations(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT name FROM migrations ORDER BY name")]

    # Articles

    def get(self, article_id: str) -> ArticleRow | None:
        row = self._db.execute(
            "SELECT id, location, status, attempts, error_kind, error FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        if row is None:
            return None
        return ArticleRow(row[0], row[1], ArticleStatus(row[2]), row[3], row[4], row[5])

    def add_pending(self, article_id: str, location: str) -> None:
        self._write(
            "INSERT OR IGNORE INTO articles (id, location, status, first_seen) VALUES (?, ?, ?, ?)",
            (article_id, location, ArticleStatus.PENDING, _now()),
        )

    def add_duplicate(self, article_id: str, location: str) -> None:
        self._write("INSERT OR IGNORE INTO duplicates VALUES (?, ?)", (article_id, location))

    def start(self, article_id: str) -> None:
        self._write(
            "UPDATE articles SET attempts = attempts + 1, started_at = ? WHERE id = ?",
            (_now(), article_id),
        )

    def finish(
        self,
        article_id: str,
        status: ArticleStatus,
        outcome: ArticleOutcome,
        committed: Mapping[str, int] | None = None,
    ) -> None:
        """Close an article and move the output offsets, all or nothing."""
        self._begin()
        # A savepoint, so that a failure undoes this finish alone and not the group around it.
        self._db.execute("SAVEPOINT finish")
        try:
            self._db.execute(
                """UPDATE articles SET status = ?, error_kind = ?, error = ?, model = ?,
                   prompt_version = ?, schema_version = ?,
                   prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?,
                   cost = coalesce(cost, 0) + ?, incidents = ?, statistics = ?, chunks = ?,
                   finished_at = ?
                   WHERE id = ?""",
                (
                    status,
                    outcome.error_kind,
                    outcome.error,
                    outcome.model,
                    outcome.prompt_version,
                    outcome.schema_version,
                    outcome.prompt_tokens,
                    outcome.completion_tokens,
                    outcome.cost or 0.0,
                    outcome.incidents,
                    outcome.statistics,
                    outcome.chunks,
                    _now(),
                    article_id,
                ),
            )
            for name, size in (committed or {}).items():
                self._db.execute(
                    "INSERT INTO outputs VALUES (?, ?) ON CONFLICT (name) "
                    "DO UPDATE SET committed_bytes = excluded.committed_bytes",
                    (name, size),
                )
            self._db.execute("RELEASE finish")
        except BaseException:
            self._db.execute("ROLLBACK TO finish")
            self._db.execute("RELEASE finish")
            raise
        finally:
            self._end()

    def reopen(self, article_id: str) -> None:
        """Make a failed article pending again, to be extracted afresh."""
        self._write(
            "UPDATE articles SET status = ?, error_kind = NULL, error = NULL WHERE id = ? "
            "AND status = ?",
            (ArticleStatus.PENDING, article_id, ArticleStatus.FAILED),
        )

    def failures(self) -> Iterator[ArticleRow]:
        rows = self._db.execute(
            "SELECT id, location, status, attempts, error_kind, error FROM articles "
            "WHERE status = 'failed' ORDER BY first_seen, id"
        )
        for row in rows:
            yield ArticleRow(row[0], row[1], ArticleStatus(row[2]), row[3], row[4], row[5])

    def counts(self) -> dict[ArticleStatus, int]:
        found = dict(self._db.execute("SELECT status, count(*) FROM articles GROUP BY status"))
        return {status: int(found.get(status, 0)) for status in ArticleStatus}

    def spent(self) -> tuple[int, int, float]:
        """Prompt tokens, completion tokens and cost over every article so far."""
        row = self._db.execute(
            "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), "
            "coalesce(sum(cost), 0) FROM articles"
        ).fetchone()
        return int(row[0]), int(row[1]), float(row[2])

    # Inputs not read by design

    def add_skipped(self, location: str, kind: str) -> None:
        """Record an input sitrep does not read; seeing it again (a resume) adds nothing."""
        self._write(
            "INSERT OR IGNORE INTO skipped_inputs VALUES (?, ?, ?)", (location, kind, _now())
        )

    def skipped_counts(self) -> dict[str, int]:
        """How many inputs of each kind were not read, over every run, most first."""
        rows = self._db.execute(
            "SELECT kind, count(*) AS n FROM skipped_inputs GROUP BY kind ORDER BY n DESC, kind"
        )
        return {kind: int(n) for kind, n in rows}

    # Outputs

    def committed_bytes(self, name: str) -> int:
        row = self._db.execute(
            "SELECT committed_bytes FROM outputs WHERE name = ?", (name,)
        ).fetchone()
        return int(row[0]) if row else 0

    # Model calls and the response cache

    def log_call(self, call: Call) -> None:
        self._write(
            """INSERT INTO calls (article_id, request_hash, status, latency_ms, prompt_tokens,
               completion_tokens, request_id, from_cache, response, created_at, model,
               prompt_version, schema_version, outcome, cached_tokens, batch_id, cost)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                call.article_id,
                call.request_hash,
                call.status,
                call.latency_ms,
                call.prompt_tokens,
                call.completion_tokens,
                call.request_id,
                int(call.from_cache),
                zlib.compress(call.response, 1) if call.response is not None else None,
                _now(),
                call.model,
                call.prompt_version,
                call.schema_version,
                call.outcome,
                call.cached_tokens,
                call.batch_id,
                call.cost,
            ),
        )

    def cached_response(self, request_hash: str) -> bytes | None:
        """The latest successful response paid for with exactly this request, in any run.

        The latest, because a request is paid for again only when an earlier answer was not
        usable (an article retried afresh, a body that was not JSON). Only a 200 with no
        outcome: never a call that got no answer, nor one the server stopped early.
        """
        row = self._db.execute(
            "SELECT response FROM calls WHERE request_hash = ? AND status = 200 "
            "AND outcome IS NULL AND response IS NOT NULL AND from_cache = 0 "
            "ORDER BY id DESC LIMIT 1",
            (request_hash,),
        ).fetchone()
        return zlib.decompress(row[0]) if row else None

    def calls_for(self, article_id: str) -> list[Call]:
        rows = self._db.execute(
            """SELECT article_id, request_hash, status, latency_ms, prompt_tokens,
               completion_tokens, request_id, response, from_cache, model, prompt_version,
               schema_version, outcome, cached_tokens, batch_id, cost
               FROM calls WHERE article_id = ? ORDER BY id""",
            (article_id,),
        )
        return [
            Call(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                zlib.decompress(r[7]) if r[7] is not None else None,
                bool(r[8]),
                r[9],
                r[10],
                r[11],
                r[12],
                r[13],
                r[14],
                r[15],
            )
            for r in rows
        ]
