"""Pages read in worker processes: the same inputs in the same order as in one process, every
input once, a failing page failing alone, and never more than a few inputs read ahead.

The jobs of the first tests are functions of this module, which the worker processes import
by name (they start by forkserver or spawn, not by fork).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from sitrep.run import readers
from sitrep.run.pages import PageJob
from sitrep.run.parallel import ordered_map
from sitrep.run.readers import InputItem, count_inputs, read_archives

PAGES = Path(__file__).parent / "data" / "pages"


@dataclass(frozen=True)
class Square:
    """A job: `number` squared, after `pause` seconds; `fault` makes it raise or kill its
    process; `trace` names a directory where it leaves a file when it runs."""

    number: int
    pause: float = 0.0
    fault: str | None = None
    trace: str | None = None


def square(job: Square) -> str:
    if job.trace is not None:
        Path(job.trace, str(job.number)).touch()
    time.sleep(job.pause)
    if job.fault == "raise":
        raise RuntimeError(f"job {job.number} went wrong")
    if job.fault == "die":
        os._exit(1)  # the process ends as a crash in a C extension would end it
    return f"{job.number}^2={job.number**2}"


def failed(job: Square, exc: Exception) -> str:
    return f"{job.number} failed: {type(exc).__name__}: {exc}"


def run(entries: list[Square | str], workers: int = 2, ahead: int | None = None) -> list[str]:
    return list(
        ordered_map(entries, square, job_type=Square, failed=failed, workers=workers, ahead=ahead)
    )


def test_results_come_in_input_order_each_once_whatever_order_the_workers_finish() -> None:
    # Early jobs are the slow ones, so that later ones finish first.
    entries: list[Square | str] = []
    for n in range(24):
        entries.append(Square(n, pause=0.03 if n % 5 == 0 else 0.0))
        if n % 3 == 0:
            entries.append(f"plain {n}")
    expected = [e if isinstance(e, str) else f"{e.number}^2={e.number**2}" for e in entries]
    assert run(entries) == expected
    assert run(entries, workers=1) == expected


def test_a_job_that_raises_fails_alone_and_the_others_are_done() -> None:
    entries: list[Square | str] = [Square(n, fault="raise" if n == 3 else None) for n in range(8)]
    results = run(entries)
    assert results[3] == "3 failed: RuntimeError: job 3 went wrong"
    assert results[:3] + results[4:] == [f"{n}^2={n * n}" for n in (0, 1, 2, 4, 5, 6, 7)]
    assert run(entries, workers=1) == results


def test_a_job_whose_process_dies_fails_alone_and_the_others_are_done() -> None:
    entries: list[Square | str] = [Square(n, fault="die" if n == 4 else None) for n in range(10)]
    results = run(entries)
    assert results[4] == (
        "4 failed: WorkerDiedError: the process reading it ended abruptly (killed, or a crash)"
    )
    assert results[:4] + results[5:] == [f"{n}^2={n * n}" for n in range(10) if n != 4]


def test_no_more_than_the_read_ahead_is_held_between_read_and_yielded() -> None:
    pulled = 0

    def entries() -> Iterator[Square | str]:
        nonlocal pulled
        for n in range(40):
            pulled += 1
            yield Square(n, pause=0.005) if n % 4 else f"plain {n}"

    held = []
    results = ordered_map(entries(), square, job_type=Square, failed=failed, workers=2, ahead=3)
    for count, _ in enumerate(results, start=1):
        held.append(pulled - count)
    assert len(held) == 40
    assert max(held) <= 3 - 1  # the one being yielded is no longer held


def test_closing_the_results_early_cancels_the_jobs_not_started(tmp_path: Path) -> None:
    entries = (Square(n, pause=0.02, trace=str(tmp_path)) for n in range(200))
    results = ordered_map(entries, square, job_type=Square, failed=failed, workers=2, ahead=4)
    assert next(results) == "0^2=0"
    results.close()
    ran = len(list(tmp_path.iterdir()))
    time.sleep(0.2)
    assert len(list(tmp_path.iterdir())) == ran  # nothing runs once closed
    assert ran <= 4 + 2  # the window and the two running when it closed


def _warc(path: Path) -> Path:
    """A crawl with pages, skipped records of three kinds, a page with no article and, at its
    end, bytes that are no record."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    files = ["wire-article.html", "index-page.html", "live-blog.html", "french-latin1.html"]
    for number, name in enumerate(files):
        uri = f"https://news.example/{number}"
        request = writer.create_warc_record(uri, "request", payload=io.BytesIO(b"GET / HTTP/1.1"))
        writer.write_record(request)
        status = "404 Not Found" if number == 2 else "200 OK"
        http = StatusAndHeaders(status, [("Content-Type", "text/html")], protocol="HTTP/1.1")
        body = (PAGES / name).read_bytes()
        record = writer.create_warc_record(
            uri, "response", payload=io.BytesIO(body), http_headers=http
        )
        writer.write_record(record)
    pdf = StatusAndHeaders("200 OK", [("Content-Type", "application/pdf")], protocol="HTTP/1.1")
    writer.write_record(
        writer.create_warc_record(
            "https://news.example/r.pdf", "response", payload=io.BytesIO(b"%PDF"), http_headers=pdf
        )
    )
    path.write_bytes(buffer.getvalue() + b"WARC/1.1\r\nnot a header\r\n")
    return path


def _archive(root: Path) -> Path:
    pages = root / "archive" / "pages"
    pages.mkdir(parents=True)
    for page in sorted(PAGES.glob("*.html")):
        shutil.copy(page, pages / page.name)
    (pages / "notes.pdf").write_bytes(b"%PDF")
    (root / "archive" / "plain.txt").write_text("date 2024-03-05\nRockets hit the base.\n")
    wire = (PAGES / "wire-article.html").read_text("utf-8").replace("\n", " ")
    rows = [
        '{"text": "Gunmen attacked a checkpoint.", "id": "row-1"}',
        '{"text": ' + json.dumps(wire) + ', "id": "page-row", "source": "Row Source"}',
        '{"text": ' + json.dumps((PAGES / "index-page.html").read_text("utf-8")) + "}",
        "not json",
    ]
    (root / "archive" / "rows.jsonl").write_text("\n".join(rows) + "\n", "utf-8")
    _warc(root / "archive" / "crawl.warc.gz")
    return root / "archive"


def test_an_archive_reads_to_the_same_items_with_one_worker_or_two(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    alone = list(read_archives([archive]))
    shared = list(read_archives([archive], workers=2))
    assert shared == alone
    assert len(alone) == count_inputs([archive])
    assert len({item.location for item in alone}) == len(alone)
    kinds = {item.skipped for item in alone if item.skipped}
    assert kinds == {
        "WARC request records",
        "WARC responses with HTTP status 404",
        "WARC responses of application/pdf",
        ".pdf files",
    }
    assert any(item.location.endswith("crawl.warc.gz:offset 0") for item in alone)
    warc_failures = {i.error for i in alone if "crawl.warc.gz" in i.location and i.error}
    assert warc_failures == {
        "no article text in the page: main-content extraction found nothing",
        "not a WARC record: its header cannot be parsed",
    }
    articles = [item.article for item in alone if item.article is not None]
    assert {"row-1", "page-row"} <= {article.id for article in articles}
    assert sum(1 for item in alone if item.location.endswith(".html") and item.article) == 6


def test_a_page_whose_reading_raises_fails_alone_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("wire-article.html", "live-blog.html", "div-soup.html"):
        shutil.copy(PAGES / name, tmp_path / name)
    reduce = PageJob.article

    def faulty(page: PageJob) -> object:
        if page.location.endswith("live-blog.html"):
            raise RecursionError("maximum recursion depth exceeded")
        return reduce(page)

    monkeypatch.setattr(PageJob, "article", faulty)
    items = list(readers.read_archives([tmp_path]))
    assert [item.location.rsplit("/", 1)[1] for item in items] == [
        "div-soup.html",
        "live-blog.html",
        "wire-article.html",
    ]
    assert items[1] == InputItem(
        str(tmp_path / "live-blog.html"),
        error="the page could not be read: maximum recursion depth exceeded",
    )
    assert items[0].article is not None
    assert items[2].article is not None
