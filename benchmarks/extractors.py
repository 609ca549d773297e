"""Which library reduces a news page to its article, and which reads WARC files: measured.

    pip install -e '.[test,compare]'
    python benchmarks/extractors.py             # 200 generated pages
    python benchmarks/extractors.py --pages 50  # quicker

Main-content extraction, each candidate on the same pages:
- quality on the hand-written pages of tests/data/pages (expected.json says what each article
  is and what must not be kept): article paragraphs kept, kept on a line of their own (the
  chunking and the evidence offsets need the paragraphs), boilerplate and decoy headlines
  kept, and whether the index page comes out empty; then the metadata (title, date, URL, site)
  where the candidate reads it;
- quality and CPU time on generated pages of realistic size (benchmarks/bench_pages.py).

WARC reading, warcio against FastWARC: records a second through a gzip'd crawl, reading every
response body (its gzip content-encoding decoded), and what each makes of damaged files.

CPU time is the process's (`time.process_time`), so a busy host slows both sides alike.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

import trafilatura
from bench_pages import pages, write_warc
from fastwarc import ArchiveIterator as FastIterator
from fastwarc import WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from warcio.archiveiterator import WARCIterator

from sitrep.run.pages import NoArticleTextError, decode_page, read_page

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data" / "pages"


def sitrep_text(html: str) -> str:
    try:
        return read_page(html).text
    except NoArticleTextError:
        return ""


def trafilatura_default(html: str) -> str:
    return trafilatura.extract(html, include_comments=False, with_metadata=True) or ""


def trafilatura_precision(html: str) -> str:
    found = trafilatura.extract(html, include_comments=False, favor_precision=True)
    return found or ""


def trafilatura_precision_metadata(html: str) -> str:
    found = trafilatura.extract(
        html, include_comments=False, favor_precision=True, with_metadata=True
    )
    return found or ""


def trafilatura_fast(html: str) -> str:
    found = trafilatura.extract(html, include_comments=False, favor_precision=True, fast=True)
    return found or ""


def resiliparse_main(html: str) -> str:
    return str(extract_plain_text(html, main_content=True))


EXTRACTORS: dict[str, Callable[[str], str]] = {
    "sitrep (trafilatura, precision, furniture and dialogs cut first)": sitrep_text,
    "trafilatura, defaults (metadata read)": trafilatura_default,
    "trafilatura, favor_precision": trafilatura_precision,
    "trafilatura, favor_precision, metadata read": trafilatura_precision_metadata,
    "trafilatura, favor_precision, fast": trafilatura_fast,
    "resiliparse, main_content": resiliparse_main,
}


@dataclass
class Score:
    paragraphs: int = 0
    kept: int = 0
    own_line: int = 0
    boilerplate: int = 0
    leaked: int = 0

    def add(self, text: str, paragraphs: Iterable[str], boilerplate: Iterable[str]) -> None:
        flat = " ".join(text.split())
        lines = {" ".join(line.split()) for line in text.splitlines()}
        for paragraph in paragraphs:
            self.paragraphs += 1
            self.kept += paragraph in flat
            self.own_line += paragraph in lines
        for junk in boilerplate:
            self.boilerplate += 1
            self.leaked += junk in text

    def row(self) -> str:
        return (
            f"{self.kept}/{self.paragraphs} | {self.own_line}/{self.paragraphs} | "
            f"{self.leaked}/{self.boilerplate}"
        )


def fixtures() -> list[tuple[dict[str, Any], str]]:
    described = json.loads((FIXTURES / "expected.json").read_text("utf-8"))["pages"]
    return [(page, decode_page((FIXTURES / page["file"]).read_bytes()).text) for page in described]


def fixture_quality() -> list[str]:
    rows = [
        "| extractor | paragraphs kept | on their own line | boilerplate kept | index page empty |",
        "| --- | --- | --- | --- | --- |",
    ]
    pages_ = fixtures()
    for name, extract in EXTRACTORS.items():
        score = Score()
        empty = "?"
        for page, html in pages_:
            text = extract(html)
            if page.get("empty"):
                empty = "yes" if not text.strip() else f"no ({len(text.strip())} characters)"
            else:
                score.add(text, page["paragraphs"], page["absent"])
        rows.append(f"| {name} | {score.row()} | {empty} |")
    return rows


def fixture_metadata() -> list[str]:
    rows = [
        "| metadata reader | title | date | URL | site |",
        "| --- | --- | --- | --- | --- |",
    ]
    articles = [(page, html) for page, html in fixtures() if not page.get("empty")]

    def sitrep_fields(html: str) -> tuple[Any, ...]:
        found = read_page(html)
        return found.title, found.published, found.url, found.site

    def trafilatura_fields(html: str) -> tuple[Any, ...]:
        found = trafilatura.extract_metadata(html)
        published = date.fromisoformat(found.date) if found.date else None
        return found.title, published, found.url, found.sitename

    readers = {"sitrep (page tags, htmldate)": sitrep_fields}
    readers["trafilatura.extract_metadata"] = trafilatura_fields
    for name, read in readers.items():
        hits = [0, 0, 0, 0]
        for page, html in articles:
            want = (
                page["title"],
                date.fromisoformat(page["published"]),
                page["url"],
                page["site"],
            )
            for i, (got, expected) in enumerate(zip(read(html), want, strict=True)):
                hits[i] += got == expected
        rows.append(f"| {name} | " + " | ".join(f"{h}/{len(articles)}" for h in hits) + " |")
    return rows


def generated(count: int) -> list[str]:
    sample = list(pages(count))
    sizes = [len(page.html.encode()) for page in sample]
    rows = [
        f"{count} pages, {min(sizes) // 1024}-{max(sizes) // 1024} KB "
        f"(mean {statistics.mean(sizes) / 1024:.0f} KB):",
        "",
        "| extractor | paragraphs kept | on their own line | boilerplate kept "
        "| CPU ms a page | pages/s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, extract in EXTRACTORS.items():
        for page in sample[:3]:
            extract(page.html)  # warm up: lazy imports and caches
        score = Score()
        started = time.process_time()
        texts = [extract(page.html) for page in sample]
        spent = time.process_time() - started
        for page, text in zip(sample, texts, strict=True):
            score.add(text, page.paragraphs, page.decoys)
        rows.append(
            f"| {name} | {score.row()} | {spent / count * 1000:.1f} | {count / spent:.0f} |"
        )
    return rows


def _warcio_bodies(path: Path) -> int:
    with path.open("rb") as stream:
        read = 0
        for record in WARCIterator(stream):
            if record.rec_type == "response":
                read += len(record.content_stream().read())
        return read


def _fastwarc_bodies(path: Path) -> int:
    with path.open("rb") as stream:
        read = 0
        for record in FastIterator(stream, record_types=WarcRecordType.response, auto_decode="all"):
            read += len(record.reader.read())
        return read


def warc_speed(count: int, directory: Path) -> list[str]:
    path = write_warc(directory / "crawl.warc.gz", count)
    rows = [
        f"{count} pages as a crawler writes them ({count * 2 + 1} records, "
        f"{path.stat().st_size / 2**20:.1f} MiB gzip'd, bodies gzip-encoded too):",
        "",
        "| library | records/s | CPU ms a page (its two records) | body MiB/s |",
        "| --- | --- | --- | --- |",
    ]
    for name, read in (("warcio", _warcio_bodies), ("FastWARC", _fastwarc_bodies)):
        read(path)
        started = time.process_time()
        total = read(path)
        spent = time.process_time() - started
        rows.append(
            f"| {name} | {(count * 2 + 1) / spent:,.0f} | {spent / count * 1000:.2f} "
            f"| {total / 2**20 / spent:.0f} |"
        )
    return rows


def _record(uri: str, body: bytes, length: int | None = None) -> bytes:
    block = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )
    head = (
        "WARC/1.1\r\nWARC-Type: response\r\nWARC-Date: 2024-07-17T08:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:{abs(hash(uri)):032x}>\r\nWARC-Target-URI: {uri}\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(block) if length is None else length}\r\n\r\n"
    )
    return head.encode() + block + b"\r\n\r\n"


def damaged_files() -> dict[str, bytes]:
    """Five responses, one of them damaged; per-record gzip as crawlers write."""
    body = b"<html><body><article><p>" + b"Rockets hit the base. " * 40 + b"</p></article></html>"
    good = [_record(f"https://x.example/{n}", body) for n in range(5)]
    garbage = b"WARC/1.1\r\nnot a header line\r\nContent-Length: zz\r\n\r\n" + b"junk" * 50
    members = [gzip.compress(record) for record in good]
    return {
        "a corrupt record third of six": b"".join(
            [*members[:2], gzip.compress(garbage + b"\r\n\r\n"), *members[2:]]
        ),
        "a Content-Length 5,000 bytes too long, third of five": b"".join(
            [
                *members[:2],
                gzip.compress(_record("https://x.example/2", body, len(body) + 5000)),
                *members[3:],
            ]
        ),
        "the last of five cut in half": b"".join(members)[: -len(members[-1]) // 2],
    }


def _outcome(bodies: Callable[[bytes], Iterator[int]], data: bytes) -> str:
    sizes: list[int] = []
    error = ""
    try:
        sizes.extend(bodies(data))
    except Exception as exc:  # what each library raises is the measurement
        error = f", then {type(exc).__name__}"
    whole = sum(1 for size in sizes if size >= 900)
    return f"{whole} whole, {len(sizes) - whole} cut short{error}"


def _warcio_sizes(data: bytes) -> Iterator[int]:
    for record in WARCIterator(io.BytesIO(data)):
        yield len(record.content_stream().read())


def _fastwarc_sizes(data: bytes) -> Iterator[int]:
    for record in FastIterator(io.BytesIO(data), auto_decode="all"):
        yield len(record.reader.read())


def warc_damage() -> list[str]:
    rows = [
        "| damage (per-record gzip) | warcio: bodies read | FastWARC: bodies read |",
        "| --- | --- | --- |",
    ]
    real_stderr = sys.stderr
    for label, data in damaged_files().items():
        sys.stderr = io.StringIO()  # warcio's warning about the bad Content-Length
        try:
            cells = [_outcome(_warcio_sizes, data), _outcome(_fastwarc_sizes, data)]
        finally:
            sys.stderr = real_stderr
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def versions() -> str:
    names = ("trafilatura", "htmldate", "lxml", "resiliparse", "warcio", "fastwarc")
    return f"Python {platform.python_version()}; " + ", ".join(
        f"{name} {version(name)}" for name in names
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="generated pages (200)")
    args = parser.parse_args(argv)
    sections: list[tuple[str, list[str]]] = [
        ("Hand-written pages (tests/data/pages)", fixture_quality()),
        ("Their metadata", fixture_metadata()),
        ("Generated pages", generated(args.pages)),
    ]
    with tempfile.TemporaryDirectory() as scratch:
        sections.append(("WARC reading", warc_speed(args.pages, Path(scratch))))
    sections.append(("Damaged WARC files", warc_damage()))
    print(versions())
    for title, rows in sections:
        print(f"\n### {title}\n")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
