"""The SQLite ledger: named migrations, atomic finishes, the call log and the response cache."""

from __future__ import annotations

import gc
import sqlite3
import time
import zlib
from collections.abc import Iterator, Mapping
from itertools import count
from pathlib import Path

import pytest

import sitrep.run.ledger
from sitrep.run.ledger import LEDGER_NAME, MIGRATIONS, ArticleOutcome, ArticleStatus, Ledger
from sitrep.wire.calls import Call


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(tmp_path / "out")
    yield opened
    opened.close()


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def completion(prompt: int = 0, output: int = 0, cost: float | None = None) -> ArticleOutcome:
    return ArticleOutcome(
        model="gpt-4.1-mini",
        prompt_version="p1",
        schema_version="s1",
        prompt_tokens=prompt,
        completion_tokens=output,
        cost=cost,
    )


def failure(kind: str | None, reason: str) -> ArticleOutcome:
    return ArticleOutcome(None, None, None, 0, 0, None, error_kind=kind, error=reason)


def call(
    request_hash: str,
    status: int = 200,
    response: bytes | None = b"{}",
    *,
    article_id: str | None = "a",
    from_cache: bool = False,
) -> Call:
    return Call(
        article_id=article_id,
        request_hash=request_hash,
        status=status,
        latency_ms=12.5,
        prompt_tokens=100,
        completion_tokens=20,
        request_id="req_1",
        response=response,
        from_cache=from_cache,
    )


class ExplodingOffsets(Mapping[str, int]):
    """Offsets whose second entry fails while the transaction is open."""

    def __getitem__(self, key: str) -> int:
        return 10

    def __len__(self) -> int:
        return 2

    def __iter__(self) -> Iterator[str]:
        yield "incidents.jsonl"
        raise RuntimeError("disk gone")


def test_open_creates_the_file_and_applies_every_migration_in_order(tmp_path: Path) -> None:
    opened = Ledger.open(tmp_path / "new" / "dir")
    try:
        assert opened.path == tmp_path / "new" / "dir" / LEDGER_NAME
        assert opened.migrations() == [name for name, _ in MIGRATIONS]
    finally:
        opened.close()
    assert opened.path.is_file()


def test_reopening_applies_no_migration_twice(ledger: Ledger) -> None:
    before = raw(ledger.path, "SELECT name, applied_at FROM migrations ORDER BY name")
    ledger.close()
    again = Ledger(ledger.path)
    again.close()
    assert raw(ledger.path, "SELECT name, applied_at FROM migrations ORDER BY name") == before
    assert len(before) == len(MIGRATIONS)


def test_an_appended_migration_is_applied_on_reopen(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.add_pending("a", "a.txt")
    ledger.close()
    monkeypatch.setattr(
        sitrep.run.ledger, "MIGRATIONS", (*MIGRATIONS, ("9999_test", "CREATE TABLE t (x)"))
    )
    again = Ledger(ledger.path)
    try:
        assert again.migrations() == [*(name for name, _ in MIGRATIONS), "9999_test"]
        assert again.get("a") is not None  # earlier data survives
    finally:
        again.close()
    assert raw(ledger.path, "SELECT name FROM sqlite_master WHERE name = 't'") == [("t",)]


def test_a_failing_migration_is_rolled_back_and_releases_the_database(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.close()
    broken = ("9999_broken", "CREATE TABLE u (x); INSERT INTO nowhere VALUES (1)")
    monkeypatch.setattr(sitrep.run.ledger, "MIGRATIONS", (*MIGRATIONS, broken))
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table: nowhere"):
            Ledger(ledger.path)
        other = sqlite3.connect(ledger.path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # needs the write lock
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert raw(ledger.path, "SELECT name FROM sqlite_master WHERE name = 'u'") == []
    finally:
        gc.collect()  # drop the failed Ledger's connection


def test_journal_mode_is_wal(ledger: Ledger) -> None:
    assert raw(ledger.path, "PRAGMA journal_mode") == [("wal",)]


def test_add_pending_is_idempotent_and_keeps_the_first_location(ledger: Ledger) -> None:
    ledger.add_pending("a", "first.txt")
    ledger.start("a")
    ledger.add_pending("a", "second.txt")
    row = ledger.get("a")
    assert row is not None
    assert (row.location, row.status, row.attempts) == ("first.txt", ArticleStatus.PENDING, 1)
    assert ledger.counts() == {
        ArticleStatus.PENDING: 1,
        ArticleStatus.DONE: 0,
        ArticleStatus.FAILED: 0,
    }
    assert ledger.get("missing") is None


def test_finish_sets_status_adds_tokens_and_moves_offsets(ledger: Ledger) -> None:
    ledger.add_pending("a", "a.txt")
    ledger.finish(
        "a", ArticleStatus.FAILED, completion(10, 5, 0.25), committed={"incidents.jsonl": 7}
    )
    ledger.finish(
        "a",
        ArticleStatus.DONE,
        completion(20, 7, 0.5),
        committed={"incidents.jsonl": 99, "statistics.jsonl": 40},
    )
    row = ledger.get("a")
    assert row is not None
    assert (row.status, row.error_kind, row.error) == (ArticleStatus.DONE, None, None)
    assert ledger.spent() == (30, 12, 0.75)
    assert ledger.committed_bytes("incidents.jsonl") == 99
    assert ledger.committed_bytes("statistics.jsonl") == 40
    assert ledger.committed_bytes("failures.jsonl") == 0


def test_finish_failing_midway_rolls_back_status_and_offsets(ledger: Ledger) -> None:
    ledger.add_pending("a", "a.txt")
    ledger.finish("a", ArticleStatus.PENDING, completion(1, 1), committed={"incidents.jsonl": 3})
    with pytest.raises(RuntimeError, match="disk gone"):
        ledger.finish("a", ArticleStatus.DONE, completion(50, 50), committed=ExplodingOffsets())
    row = ledger.get("a")
    assert row is not None
    assert row.status is ArticleStatus.PENDING
    assert ledger.spent()[:2] == (1, 1)
    assert ledger.committed_bytes("incidents.jsonl") == 3
    # No transaction is left open: the next finish commits normally.
    ledger.finish("a", ArticleStatus.DONE, completion(), committed={"incidents.jsonl": 4})
    assert ledger.committed_bytes("incidents.jsonl") == 4


def test_failures_lists_only_failed_rows_in_first_seen_order(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = count()
    monkeypatch.setattr(sitrep.run.ledger, "_now", lambda: f"2024-01-01T00:00:{next(ticks):02d}")
    for article_id in ("c", "a", "d", "b"):
        ledger.add_pending(article_id, f"{article_id}.txt")
    for article_id in ("b", "c", "a"):
        ledger.start(article_id)
    ledger.finish("b", ArticleStatus.FAILED, failure(None, "late"))
    ledger.finish("a", ArticleStatus.DONE, completion())
    ledger.finish("c", ArticleStatus.FAILED, failure("input", "no text"))
    failed = list(ledger.failures())
    assert [(r.id, r.location, r.attempts, r.error_kind, r.error) for r in failed] == [
        ("c", "c.txt", 1, "input", "no text"),
        ("b", "b.txt", 1, None, "late"),
    ]
    assert ledger.counts() == {
        ArticleStatus.PENDING: 1,
        ArticleStatus.DONE: 1,
        ArticleStatus.FAILED: 2,
    }


def test_counts_lists_every_status_even_when_empty(ledger: Ledger) -> None:
    assert ledger.counts() == {
        ArticleStatus.PENDING: 0,
        ArticleStatus.DONE: 0,
        ArticleStatus.FAILED: 0,
    }
    assert ledger.spent() == (0, 0, 0.0)


def test_logged_response_is_stored_compressed_and_returned_byte_identical(
    ledger: Ledger,
) -> None:
    body = b'{"choices": [' + b'"\xff\x00 not utf-8", ' * 200 + b"1]}"
    ledger.log_call(call("h1", response=body))
    ledger.log_call(call("h2", status=500, response=None))
    ledger.log_call(call("h3", article_id="other"))
    calls = ledger.calls_for("a")
    assert calls == [call("h1", response=body), call("h2", status=500, response=None)]
    ((stored,),) = raw(ledger.path, "SELECT response FROM calls WHERE request_hash = 'h1'")
    assert isinstance(stored, bytes)
    assert len(stored) < len(body)
    assert zlib.decompress(stored) == body


def test_cached_response_is_only_a_paid_200_for_that_request(ledger: Ledger) -> None:
    ledger.log_call(call("h", status=429, response=b"rate limited"))
    ledger.log_call(call("h", status=200, response=b"replayed", from_cache=True))
    ledger.log_call(call("h", status=200, response=None))
    assert ledger.cached_response("h") is None
    ledger.log_call(call("h", status=200, response=b"paid for"))
    assert ledger.cached_response("h") == b"paid for"
    assert ledger.cached_response("other") is None


def test_grouped_writes_are_committed_together_by_commit_or_close(tmp_path: Path) -> None:
    grouped = Ledger.open(tmp_path, commit_interval=3600)
    grouped.add_pending("a", "a.txt")
    grouped.log_call(call("h"))
    assert grouped.get("a") is not None  # its own connection sees the group
    assert raw(grouped.path, "SELECT count(*) FROM articles") == [(0,)]
    grouped.commit()
    assert raw(grouped.path, "SELECT count(*) FROM articles") == [(1,)]
    grouped.finish("a", ArticleStatus.DONE, completion(), committed={"statistics.jsonl": 5})
    assert raw(grouped.path, "SELECT status FROM articles") == [("pending",)]
    grouped.close()
    assert raw(grouped.path, "SELECT status FROM articles") == [("done",)]
    assert raw(grouped.path, "SELECT committed_bytes FROM outputs") == [(5,)]


def test_group_older_than_the_interval_is_committed_by_the_next_write(tmp_path: Path) -> None:
    grouped = Ledger.open(tmp_path, commit_interval=0.05)
    grouped.add_pending("a", "a.txt")
    assert raw(grouped.path, "SELECT count(*) FROM articles") == [(0,)]
    time.sleep(0.06)
    grouped.add_pending("b", "b.txt")
    assert raw(grouped.path, "SELECT count(*) FROM articles") == [(2,)]
    grouped.close()


def test_failing_finish_in_a_group_undoes_itself_and_keeps_the_group(tmp_path: Path) -> None:
    grouped = Ledger.open(tmp_path, commit_interval=3600)
    grouped.add_pending("a", "a.txt")
    grouped.add_pending("b", "b.txt")
    grouped.finish("a", ArticleStatus.DONE, completion(3, 1), committed={"incidents.jsonl": 3})
    with pytest.raises(RuntimeError, match="disk gone"):
        grouped.finish("b", ArticleStatus.DONE, completion(50, 50), committed=ExplodingOffsets())
    grouped.close()
    assert raw(grouped.path, "SELECT id, status FROM articles ORDER BY id") == [
        ("a", "done"),
        ("b", "pending"),
    ]
    assert raw(grouped.path, "SELECT name, committed_bytes FROM outputs") == [
        ("incidents.jsonl", 3)
    ]


def _add_job(ledger: Ledger, name: str) -> None:
    ledger.write(
        "INSERT INTO batch_jobs (state, file_name, model, prompt_version, schema_version, "
        "requests, bytes, created_at, updated_at) VALUES ('prepared', ?, 'm', 'p', 's', 1, 1, "
        "'t', 't')",
        (name,),
    )


@pytest.mark.parametrize("interval", [0.0, 0.01])
def test_atomic_writes_land_together_when_the_interval_passes_inside_the_block(
    tmp_path: Path, interval: float
) -> None:
    # Each write inside the block is past the interval: none may commit on its own.
    ledger = Ledger.open(tmp_path, commit_interval=interval)
    with ledger.atomic():
        _add_job(ledger, "a")
        assert raw(ledger.path, "SELECT count(*) FROM batch_jobs") == [(0,)]
        time.sleep(2 * interval)
        _add_job(ledger, "b")
        assert raw(ledger.path, "SELECT count(*) FROM batch_jobs") == [(0,)]
    assert raw(ledger.path, "SELECT file_name FROM batch_jobs ORDER BY id") == [("a",), ("b",)]
    ledger.close()


@pytest.mark.parametrize("interval", [0.0, 0.01])
def test_a_failing_atomic_block_lands_none_of_its_writes(tmp_path: Path, interval: float) -> None:
    ledger = Ledger.open(tmp_path, commit_interval=interval)
    _add_job(ledger, "before")

    def two_jobs_then_a_fault() -> None:
        with ledger.atomic():
            _add_job(ledger, "a")
            time.sleep(2 * interval)
            _add_job(ledger, "b")
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        two_jobs_then_a_fault()
    ledger.close()
    assert raw(ledger.path, "SELECT file_name FROM batch_jobs") == [("before",)]


def test_cached_response_is_the_latest_paid_for(ledger: Ledger) -> None:
    ledger.log_call(call("h", response=b"first, unusable"))
    ledger.log_call(call("h", response=b"asked again"))
    assert ledger.cached_response("h") == b"asked again"


def test_inputs_not_read_are_kept_once_per_location_and_counted_by_kind(ledger: Ledger) -> None:
    for _ in range(2):  # a resume sees the same inputs again
        ledger.add_skipped("a/1.pdf", ".pdf files")
        ledger.add_skipped("a/2.pdf", ".pdf files")
        ledger.add_skipped("a/LICENSE", "files with no suffix")
        ledger.add_skipped("a/.DS_Store", "hidden files")
    assert ledger.skipped_counts() == {
        ".pdf files": 2,
        "files with no suffix": 1,
        "hidden files": 1,
    }
    assert list(ledger.skipped_counts()) == [".pdf files", "files with no suffix", "hidden files"]
    assert ledger.counts() == dict.fromkeys(ArticleStatus, 0)  # no article, no failure


def test_a_ledger_with_no_inputs_not_read_counts_none(ledger: Ledger) -> None:
    assert ledger.skipped_counts() == {}
