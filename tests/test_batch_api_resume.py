"""A Batch API run stopped at any state of its batches resumes where it was: every article ends
done exactly once, the server runs each request exactly once (but for lines an expired or
cancelled batch never ran, which go again), and no input file is ever made into two batches.

A process killed mid-step is a `BatchClient` method that raises before or after its call
reaches the server; a run that returns with batches open is `BatchApiOptions(wait=False)`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest
from batchapi import (
    FAST,
    Killed,
    assert_done_once_and_run_once,
    kill_after,
    kill_before,
    query,
    run_api,
    sent_batches,
    serving,
    statuses,
    synthetic_config,
)

from sitrep.model.article import Article
from sitrep.run.batchapi import BatchClient, BatchView
from sitrep.run.batchfiles import BatchRequest
from sitrep.run.batchjobs import BatchAction, JobReport, JobWriter, manage_batches
from sitrep.settings import ModelConfig
from sitrep.testing.fakeserver import FakeOpenAIServer
from synthetic import synthetic_articles

ARTICLES = synthetic_articles(4)
DURATION = 0.4


def articles() -> list[Article]:
    return ARTICLES


def jobs(out: Path) -> list[tuple[str, str | None]]:
    return [(row[0], row[1]) for row in query(out, "SELECT state, status FROM batch_jobs")]


def manage(out: Path, config: ModelConfig, action: BatchAction) -> list[JobReport]:
    return asyncio.run(
        manage_batches(out, config, api_key="test-key-never-sent", action=action, batch=FAST)
    )


def one_batch_per_input_file(server: FakeOpenAIServer) -> None:
    files = Counter(batch.input_file_id for batch in sent_batches(server))
    assert set(files.values()) == {1}, f"an input file was made into more than one batch: {files}"


def uploaded_files(server: FakeOpenAIServer) -> int:
    """Input files on the server (the fake server numbers every file and batch in one series)."""
    found = 0
    with httpx2.Client(base_url=server.base_url, timeout=5) as http:
        for serial in range(1, 20):  # a few runs' worth of files and batches
            response = http.get(f"/files/file-fake{serial:06d}")
            found += response.status_code == 200 and response.json()["purpose"] == "batch"
    return found


# Killed while taking a job from prepared to submitted


def test_a_run_killed_before_uploading_resumes_from_the_prepared_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        kill_before(monkeypatch, "upload")
        with pytest.raises(Killed):
            run_api(articles, config, tmp_path)
        assert jobs(tmp_path) == [("prepared", None)]
        assert (tmp_path / "batches").is_dir()
        assert sent_batches(server) == []
        monkeypatch.undo()
        summary = run_api(articles, config, tmp_path)
        assert summary.jobs["collected"] == 1
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
    assert len(batches) == 1
    assert list((tmp_path / "batches").iterdir()) == []  # the input file, once collected


def test_a_run_killed_after_uploading_before_writing_the_file_id_uploads_it_again_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        kill_after(monkeypatch, "upload")
        with pytest.raises(Killed):
            run_api(articles, config, tmp_path)
        assert jobs(tmp_path) == [("prepared", None)]
        assert uploaded_files(server) == 1
        monkeypatch.undo()
        run_api(articles, config, tmp_path)
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
        # The first copy is never submitted: one batch, made from the second.
        assert uploaded_files(server) == 2
        (input_file_id,) = query(tmp_path, "SELECT input_file_id FROM batch_jobs")[0]
    assert [batch.input_file_id for batch in batches] == [input_file_id]


def test_a_run_killed_between_upload_and_batch_creation_creates_one_batch_for_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        kill_before(monkeypatch, "create")
        with pytest.raises(Killed):
            run_api(articles, config, tmp_path)
        assert jobs(tmp_path) == [("uploaded", None)]
        assert sent_batches(server) == []
        monkeypatch.undo()
        run_api(articles, config, tmp_path)
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
        one_batch_per_input_file(server)
        assert uploaded_files(server) == 1  # not uploaded again
    assert len(batches) == 1


def test_a_run_killed_after_creating_a_batch_before_writing_its_id_finds_that_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        kill_after(monkeypatch, "create")
        with pytest.raises(Killed):
            run_api(articles, config, tmp_path)
        assert jobs(tmp_path) == [("uploaded", None)]
        (created,) = sent_batches(server)
        monkeypatch.undo()
        run_api(articles, config, tmp_path)
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
        one_batch_per_input_file(server)
        assert query(tmp_path, "SELECT batch_id FROM batch_jobs") == [(created.id,)]
    assert [batch.id for batch in batches] == [created.id]


# Returned with batches open: submitted, in progress, completed, expired


def test_a_run_that_returned_with_its_batch_submitted_collects_it_on_the_next_run(
    tmp_path: Path,
) -> None:
    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        first = run_api(articles, config, tmp_path, wait=False)
        assert first.summary.stopped == "waiting on batches"
        assert (first.waiting, first.submitted) == (len(ARTICLES), len(ARTICLES))
        assert jobs(tmp_path) == [("submitted", "validating")]
        assert statuses(tmp_path) == Counter({"pending": len(ARTICLES)})
        second = run_api(articles, config, tmp_path)
        assert second.summary.stopped is None
        assert second.submitted == 0  # nothing sent again
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
    assert len(batches) == 1


def wait_for_status(server: FakeOpenAIServer, status: str, timeout: float = 5.0) -> None:
    """Poll the newest batch (without reading its files: this is a race with the clock)."""
    deadline = time.monotonic() + timeout
    with httpx2.Client(base_url=server.base_url, timeout=5) as http:
        while http.get("/batches", params={"limit": 1}).json()["data"][0]["status"] != status:
            assert time.monotonic() < deadline, f"the batch never became {status}"
            time.sleep(0.02)


def test_a_run_that_finds_its_batch_in_progress_sends_nothing_and_waits(tmp_path: Path) -> None:
    with serving(duration=0.5) as server:
        config = synthetic_config(server)
        run_api(articles, config, tmp_path, wait=False)
        wait_for_status(server, "in_progress")
        again = run_api(articles, config, tmp_path, wait=False)
        assert again.summary.stopped == "waiting on batches"
        assert again.submitted == 0
        assert jobs(tmp_path) == [("submitted", "in_progress")]
        assert len(sent_batches(server)) == 1
        run_api(articles, config, tmp_path)
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
    assert len(batches) == 1


def test_a_run_that_finds_its_batch_completed_collects_it_and_sends_nothing(
    tmp_path: Path,
) -> None:
    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        run_api(articles, config, tmp_path, wait=False)
        wait_for_status(server, "completed")
        assert jobs(tmp_path)[0][0] == "submitted"
        summary = run_api(articles, config, tmp_path)
        assert summary.submitted == 0
        assert summary.summary.done == len(ARTICLES)
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
    assert len(batches) == 1


def test_a_run_that_finds_its_batch_expired_submits_only_the_lines_it_never_ran(
    tmp_path: Path,
) -> None:
    # Three of the four lines finish before the batch expires; the one left finishes in the next.
    with serving(duration=DURATION, expire=True, expire_finished=0.75) as server:
        config = synthetic_config(server)
        run_api(articles, config, tmp_path, wait=False)
        wait_for_status(server, "expired")
        summary = run_api(articles, config, tmp_path)
        assert summary.submitted == 1
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
    assert [(batch.status, len(batch.custom_ids), len(batch.not_run)) for batch in batches] == [
        ("expired", 4, 1),
        ("expired", 1, 0),
    ]
    (never_run,) = batches[0].not_run
    (again,) = batches[1].custom_ids
    # Submitted again under its next custom_id, with no failure counted against it.
    assert again == never_run.removesuffix("-1") + "-2"
    states = query(tmp_path, "SELECT custom_id, state FROM batch_requests ORDER BY custom_id")
    assert (never_run, "unfinished") in states
    assert Counter(state for _, state in states) == Counter({"answered": 4, "unfinished": 1})


# Cancelled, and collected by `sitrep batches`


def test_a_run_whose_batch_was_cancelled_submits_what_it_never_ran(tmp_path: Path) -> None:
    with serving(duration=0.5, cancel_duration=0.05) as server:
        config = synthetic_config(server)
        run_api(articles, config, tmp_path, wait=False)
        time.sleep(0.2)  # some lines finished, not all
        reports = manage(tmp_path, config, BatchAction.CANCEL)
        assert [(report.state, report.status) for report in reports] == [("collected", "cancelled")]
        assert statuses(tmp_path) == Counter({"pending": len(ARTICLES)})
        (cancelled,) = sent_batches(server)
        assert cancelled.status == "cancelled"
        # Lines it ran before the cancel are kept; the rest never ran.
        assert 0 < len(cancelled.not_run) < len(ARTICLES)
        summary = run_api(articles, config, tmp_path)
        assert summary.submitted == len(cancelled.not_run)
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
    assert len(batches) == 2


def test_a_batch_cancelled_elsewhere_is_collected_and_its_unrun_lines_sent_again(
    tmp_path: Path,
) -> None:
    with serving(duration=DURATION, cancel_duration=0.05) as server:
        config = synthetic_config(server)
        run_api(articles, config, tmp_path, wait=False)
        (batch,) = sent_batches(server)
        httpx2.post(f"{server.base_url}/batches/{batch.id}/cancel", timeout=5).raise_for_status()
        wait_for_status(server, "cancelled")
        assert jobs(tmp_path)[0][0] == "submitted"
        run_api(articles, config, tmp_path)
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
    assert batches[0].status == "cancelled"
    assert len(batches) == 2


def test_batches_collected_by_sitrep_batches_wait_are_finished_by_the_next_run(
    tmp_path: Path,
) -> None:
    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        run_api(articles, config, tmp_path, wait=False)
        reports = manage(tmp_path, config, BatchAction.WAIT)
        assert [(report.state, report.status) for report in reports] == [("collected", "completed")]
        assert statuses(tmp_path) == Counter({"pending": len(ARTICLES)})
        summary = run_api(articles, config, tmp_path)
        assert summary.submitted == 0
        assert summary.summary.done == len(ARTICLES)
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
        assert server.stats().requests == 0
    assert len(batches) == 1


def test_a_finished_run_run_again_sends_nothing_and_writes_nothing_twice(tmp_path: Path) -> None:
    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        run_api(articles, config, tmp_path)
        again = run_api(articles, config, tmp_path)
        assert (again.submitted, again.summary.run.skipped) == (0, len(ARTICLES))
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
    assert len(batches) == 1


@pytest.mark.parametrize("looked", ["in_progress", "finalizing"])
def test_cancelling_a_batch_that_finishes_first_collects_it_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, looked: str
) -> None:
    # The batch was `looked` when asked, and had completed by the time the cancel came; the
    # server refuses to cancel a finalizing or finished batch (409).
    real = BatchClient.retrieve
    looks: list[str] = []

    async def stale(self: BatchClient, batch_id: str) -> BatchView:
        view = await real(self, batch_id)
        if not looks:
            looks.append(view.status)
            return replace(view, status=looked, output_file_id=None)
        return view

    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        run_api(articles, config, tmp_path, wait=False)
        wait_for_status(server, "completed")
        monkeypatch.setattr(BatchClient, "retrieve", stale)
        reports = manage(tmp_path, config, BatchAction.CANCEL)
        monkeypatch.undo()
        assert looks == ["completed"]
        assert [(report.state, report.status) for report in reports] == [("collected", "completed")]
        summary = run_api(articles, config, tmp_path)
        assert summary.submitted == 0
        assert_done_once_and_run_once(server, tmp_path, ARTICLES)


# Killed while the drive writes input files


def test_a_run_killed_mid_drive_keeps_the_files_it_filled_and_asks_for_the_rest_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add = JobWriter.add
    added: list[str] = []

    def add_then_die(self: JobWriter, request: BatchRequest) -> None:
        if len(added) == 3:
            raise Killed
        added.append(request.custom_id)
        real_add(self, request)

    with serving(duration=DURATION) as server:
        config = synthetic_config(server)
        monkeypatch.setattr(JobWriter, "add", add_then_die)
        with pytest.raises(Killed):
            run_api(articles, config, tmp_path, max_requests_per_file=2)
        # The full file and the one being written when it stopped are both written down.
        assert [row[0] for row in query(tmp_path, "SELECT requests FROM batch_jobs")] == [2, 1]
        monkeypatch.setattr(JobWriter, "add", real_add)
        run_api(articles, config, tmp_path, max_requests_per_file=2)
        assert_done_once_and_run_once(server, tmp_path, ARTICLES)
        one_batch_per_input_file(server)


def test_an_input_file_no_job_names_is_deleted_and_never_sent(tmp_path: Path) -> None:
    stray = tmp_path / "batches" / "20260101T000000-deadbeef-1.jsonl"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b'{"custom_id": "half-written", "method": "POST"')  # killed mid-write
    with serving(duration=DURATION) as server:
        run_api(articles, synthetic_config(server), tmp_path)
        batches = assert_done_once_and_run_once(server, tmp_path, ARTICLES)
    assert not stray.exists()
    assert "half-written" not in {c for batch in batches for c in batch.custom_ids}
