"""WARC crawls: each HTML response an article, every other record skipped and counted, every
damaged record failed at its offset, and the file read on past it where the format allows.

The files are built here byte by byte, so that a test can cut or corrupt exactly one record.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from sitrep.run.pages import NO_ARTICLE_TEXT
from sitrep.run.readers import InputItem, count_inputs, read_archives

PAGES = Path(__file__).parent / "data" / "pages"
WIRE = (PAGES / "wire-article.html").read_bytes()
REGIONAL = (PAGES / "regional-main.html").read_bytes()  # states no URL and no site
INDEX = (PAGES / "index-page.html").read_bytes()
CRAWLED = "2024-11-09T03:12:45Z"


def warc_record(
    kind: str,
    block: bytes,
    *,
    uri: str | None = "https://news.example/a",
    content_type: str = "application/http; msgtype=response",
    length: int | None = None,
    number: int = 0,
) -> bytes:
    headers = [
        "WARC/1.1",
        f"WARC-Type: {kind}",
        f"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-{number:012d}>",
        f"WARC-Date: {CRAWLED}",
        *([f"WARC-Target-URI: {uri}"] if uri else []),
        f"Content-Type: {content_type}",
        f"Content-Length: {len(block) if length is None else length}",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def http_response(
    body: bytes,
    *,
    status: str = "200 OK",
    content_type: str | None = "text/html; charset=utf-8",
    headers: Sequence[str] = (),
) -> bytes:
    lines = [f"HTTP/1.1 {status}", *([f"Content-Type: {content_type}"] if content_type else [])]
    lines += headers
    if not any(h.lower().startswith("transfer-encoding") for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(body: bytes, size: int = 1000) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def response(
    body: bytes,
    uri: str,
    number: int,
    *,
    status: str = "200 OK",
    content_type: str | None = "text/html; charset=utf-8",
    headers: Sequence[str] = (),
) -> bytes:
    block = http_response(body, status=status, content_type=content_type, headers=headers)
    return warc_record("response", block, uri=uri, number=number)


def crawl_records() -> list[bytes]:
    """A small crawl as a crawler writes it: warcinfo, then request/response pairs."""
    return [
        warc_record(
            "warcinfo",
            b"software: test-crawler\r\n",
            uri=None,
            content_type="application/warc-fields",
        ),
        warc_record(
            "request",
            b"GET /a HTTP/1.1\r\nHost: news.example\r\n\r\n",
            content_type="application/http; msgtype=request",
            number=1,
        ),
        response(WIRE, "https://news.example/a", 2),
        response(REGIONAL, "https://bornodaily.example/dalwa", 3, content_type="text/html"),
        response(
            b"%PDF-1.7 fake", "https://news.example/report.pdf", 4, content_type="application/pdf"
        ),
        response(
            b"<html><p>Not found</p></html>", "https://news.example/gone", 5, status="404 Not Found"
        ),
        warc_record(
            "metadata",
            b"via: https://news.example/\r\n",
            content_type="application/warc-fields",
            number=6,
        ),
        response(INDEX, "https://news.example/world/", 7),
    ]


def write_warc(path: Path, records: Sequence[bytes]) -> Path:
    """Plain, or for `.gz` one gzip member per record, as crawlers write them."""
    if path.name.endswith(".gz"):
        path.write_bytes(b"".join(gzip.compress(record) for record in records))
    else:
        path.write_bytes(b"".join(records))
    return path


def offsets(path: Path, records: Sequence[bytes]) -> list[int]:
    """Where each record starts in the file written by `write_warc`."""
    sizes = [len(gzip.compress(r)) if path.name.endswith(".gz") else len(r) for r in records]
    return [sum(sizes[:i]) for i in range(len(sizes))]


def read(path: Path) -> list[InputItem]:
    items = list(read_archives([path]))
    assert count_inputs([path]) == len(items)
    return items


NAMES = [pytest.param("crawl.warc", id="plain"), pytest.param("crawl.warc.gz", id="gzip")]


@pytest.mark.parametrize("name", NAMES)
def test_every_record_is_an_article_a_failure_or_a_skip_located_by_its_offset(
    tmp_path: Path, name: str
) -> None:
    records = crawl_records()
    path = write_warc(tmp_path / name, records)
    items = read(path)
    assert [item.location for item in items] == [
        f"{path}:offset {offset}" for offset in offsets(path, records)
    ]
    outcome = [("article" if item.article else item.skipped or item.error) for item in items]
    assert outcome == [
        "WARC warcinfo records",
        "WARC request records",
        "article",
        "article",
        "WARC responses of application/pdf",
        "WARC responses with HTTP status 404",
        "WARC metadata records",
        NO_ARTICLE_TEXT,
    ]


@pytest.mark.parametrize("name", NAMES)
def test_the_offset_finds_the_record_in_the_file(tmp_path: Path, name: str) -> None:
    records = crawl_records()
    path = write_warc(tmp_path / name, records)
    data = path.read_bytes()
    third = read(path)[2]
    offset = int(third.location.rsplit(" ", 1)[1])
    start = data[offset:]
    if name.endswith(".gz"):
        start = zlib.decompressobj(wbits=31).decompress(start)
    assert start.startswith(records[2][:200])


def test_html_response_takes_the_target_uri_and_the_page_metadata(tmp_path: Path) -> None:
    path = write_warc(tmp_path / "crawl.warc.gz", crawl_records())
    wire, regional = (item.article for item in read(path) if item.article)
    assert wire is not None
    assert regional is not None
    assert wire.url == "https://news.example/a"
    assert (wire.published, wire.title, wire.source) == (
        date(2024, 7, 17),
        "Drones target US base in western Iraq, two intercepted",
        "Meridian Wire",
    )
    assert wire.text.splitlines()[0].startswith("BAGHDAD, July 17 (Meridian Wire)")
    assert "Car bomb kills seven" not in wire.text
    # The page states a date but no site: the host of the crawled address names the source.
    assert (regional.published, regional.source) == (date(2024, 11, 7), "bornodaily.example")


def test_the_crawl_date_is_the_publication_date_of_a_page_that_states_none(
    tmp_path: Path,
) -> None:
    page = (
        b"<html><head><title>Shelling in Beni</title></head><body><article><h1>Shelling in Beni"
        b"</h1><p>Shells fell on two districts of Beni overnight, residents said.</p>"
        b"<p>No casualties were reported by the town's hospital.</p></article></body></html>"
    )
    path = write_warc(tmp_path / "crawl.warc", [response(page, "https://x.example/beni", 1)])
    (item,) = read(path)
    assert item.article is not None
    assert item.article.published == date(2024, 11, 9)
    assert item.article.text.splitlines()[-2:] == [
        "Shells fell on two districts of Beni overnight, residents said.",
        "No casualties were reported by the town's hospital.",
    ]


def test_chunked_and_gzip_encoded_bodies_are_decoded(tmp_path: Path) -> None:
    records = [
        response(
            chunked(WIRE), "https://news.example/1", 1, headers=["Transfer-Encoding: chunked"]
        ),
        response(
            gzip.compress(WIRE), "https://news.example/2", 2, headers=["Content-Encoding: gzip"]
        ),
        response(
            chunked(gzip.compress(WIRE)),
            "https://news.example/3",
            3,
            headers=["Content-Encoding: gzip", "Transfer-Encoding: chunked"],
        ),
    ]
    items = read(write_warc(tmp_path / "crawl.warc.gz", records))
    texts = {item.article.text for item in items if item.article}
    assert len(texts) == 1
    assert [item.article.url for item in items if item.article] == [
        f"https://news.example/{n}" for n in (1, 2, 3)
    ]


def test_a_body_that_claims_gzip_but_is_not_is_read_as_it_stands_and_fails_alone(
    tmp_path: Path,
) -> None:
    records = [
        response(
            b"not gzip at all", "https://news.example/1", 1, headers=["Content-Encoding: gzip"]
        ),
        response(WIRE, "https://news.example/2", 2),
    ]
    bad, good = read(write_warc(tmp_path / "crawl.warc", records))
    assert (bad.article, bad.error) == (None, NO_ARTICLE_TEXT)
    assert good.article is not None


def test_the_http_charset_is_told_to_the_decoder(tmp_path: Path) -> None:
    text = "Беспилотник сбит над городом, сообщили власти в понедельник вечером."
    page = (
        b"<html><head><meta charset='koi8-r'></head><body><article><p>"
        + text.encode("cp1251")
        + b"</p></article></body></html>"
    )
    path = write_warc(
        tmp_path / "crawl.warc",
        [response(page, "https://ru.example/1", 1, content_type="text/html; charset=windows-1251")],
    )
    (item,) = read(path)
    assert item.article is not None
    assert item.article.text == text


def record_size(name: str, record: bytes) -> int:
    return len(gzip.compress(record)) if name.endswith(".gz") else len(record)


@pytest.mark.parametrize(
    ("name", "kept", "reason"),
    [
        pytest.param("crawl.warc", 0.5, "truncated: {missing} bytes short", id="plain-body"),
        pytest.param(
            "crawl.warc",
            40,
            "unreadable from here on: a record header cut short",
            id="plain-header",
        ),
        pytest.param("crawl.warc.gz", 0.5, "truncated: ", id="gzip-body"),
        pytest.param(
            "crawl.warc.gz",
            20,
            "unreadable from here on: truncated or not a WARC record",
            id="gzip-header",
        ),
    ],
)
def test_a_truncated_last_record_fails_at_its_offset_and_the_others_are_read(
    tmp_path: Path, name: str, kept: float, reason: str
) -> None:
    records = crawl_records()[:4]
    path = write_warc(tmp_path / name, records)
    last = record_size(name, records[-1])
    keep = int(last * kept) if kept < 1 else int(kept)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) - last + keep])
    items = read(path)
    assert [item.location for item in items] == [
        f"{path}:offset {offset}" for offset in offsets(path, records)
    ]
    assert [item.article is not None for item in items] == [False, False, True, False]
    # What was cut off, less the blank lines that close a record and are not its content.
    missing = len(records[-1]) - len(b"\r\n\r\n") - keep
    assert (items[3].error or "").startswith(reason.format(missing=missing))


def test_a_plain_warc_cut_inside_a_body_says_how_many_bytes_are_missing(tmp_path: Path) -> None:
    records = crawl_records()[:3]
    path = write_warc(tmp_path / "crawl.warc", records)
    path.write_bytes(path.read_bytes()[:-104])  # the record's "\r\n\r\n" and 100 bytes of it
    *_, last = read(path)
    assert last.error == "truncated: 100 bytes short of its Content-Length"


@pytest.mark.parametrize("name", NAMES)
def test_a_corrupt_record_in_the_middle_fails_and_the_records_after_it_are_read(
    tmp_path: Path, name: str
) -> None:
    records = crawl_records()[:3]
    garbage = (
        b"WARC/1.1\r\nthis is not a header\r\nContent-Length: zz\r\n\r\n"
        + b"junk" * 40
        + b"\r\n\r\n"
    )
    after = response(REGIONAL, "https://bornodaily.example/dalwa", 9)
    path = write_warc(tmp_path / name, [*records, garbage, after])
    items = read(path)
    at = offsets(path, [*records, garbage, after])
    assert items[2].article is not None
    broken = next(item for item in items if item.location == f"{path}:offset {at[3]}")
    assert broken.article is None
    assert broken.error == "not a WARC record: its header cannot be parsed"
    assert items[-1].location == f"{path}:offset {at[4]}"
    assert items[-1].article is not None
    assert items[-1].article.url == "https://bornodaily.example/dalwa"


def test_a_wrong_content_length_fails_its_record_and_the_next_gzip_member_is_read(
    tmp_path: Path,
) -> None:
    wrong = warc_record(
        "response", http_response(WIRE), uri="https://x.example/1", length=len(WIRE) + 5000
    )
    after = response(REGIONAL, "https://bornodaily.example/dalwa", 2)
    path = write_warc(tmp_path / "crawl.warc.gz", [wrong, after])
    bad, good = read(path)
    assert bad.location == f"{path}:offset 0"
    assert (bad.error or "").startswith("truncated: ")
    assert good.article is not None


def test_a_broken_gzip_stream_fails_once_for_the_rest_of_the_file(tmp_path: Path) -> None:
    records = crawl_records()[:3]
    path = write_warc(tmp_path / "crawl.warc.gz", records)
    members = path.read_bytes()
    start = offsets(path, records)[2]
    path.write_bytes(members[:start] + b"\x1f\x8b\x08\x00broken member" + members[start + 20 :])
    items = read(path)
    assert [item.skipped for item in items[:2]] == ["WARC warcinfo records", "WARC request records"]
    (last,) = items[2:]
    assert last.location == f"{path}:offset {start}"
    assert (last.error or "").startswith("unreadable from here on")


def test_a_file_that_is_not_a_warc_is_one_failure(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(b"this is not a WARC file at all\n" * 10)
    (item,) = read(path)
    assert item.location == f"{path}:offset 0"
    assert item.error == (
        "unreadable from here on: Invalid WARC record, first line: this is not a WARC file at all"
    )


def test_warc_files_in_a_directory_are_read_and_counted(tmp_path: Path) -> None:
    write_warc(tmp_path / "a.warc.gz", crawl_records())
    write_warc(tmp_path / "b.warc", crawl_records()[2:4])
    items = list(read_archives([tmp_path]))
    assert len(items) == 8 + 2 == count_inputs([tmp_path])
    assert sum(1 for item in items if item.article) == 2 + 2
