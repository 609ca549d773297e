"""An archive as archives really come, run end to end against the local fake server.

One directory holds a WARC crawl, saved web pages, text in UTF-16, Windows-1256 and Latin-1,
and a 250,000-character report. Every article in it must be extracted; no page furniture may
reach the model; every evidence offset must slice the full article text to its quote.

Each article states figures in the synthetic form ("Report 17: militants carried out 17 attacks
in the northern province."), which the fake server's scripted answer codes as statistics. The
page furniture (menus, related stories, cookie banners, comments) carries decoy figures of the
same form, numbered from 900, so a decoy reaching the model would show in a request body and in
the records.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sitrep.cli import main
from sitrep.run.ledger import Ledger
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings
from synthetic import attacks_statistic

_FIGURE = re.compile(r"Report (\d+): militants carried out \d+ attacks in [A-Za-z ]+\.")


def figure(number: int) -> str:
    return f"Report {number}: militants carried out {number} attacks in the northern province."


def decoy(number: int) -> str:
    return f"Report {number}: militants carried out {number} attacks in the decoy province."


ARABIC_PARAGRAPH = (
    "قال مسؤولون عسكريون إن طائرة مسيرة هاجمت قاعدة عين الأسد الجوية صباح اليوم، ولم تقع "
    "إصابات. وأضافوا أن الهجوم هو الثالث هذا الأسبوع، وأن التحقيق جار لمعرفة الجهة المسؤولة."
)
FRENCH_PARAGRAPH = (
    "Le ministère a déclaré qu'une frappe aérienne a touché la base près de Kirkouk à l'aube ; "
    "deux soldats ont été blessés, selon l'armée, qui n'a pas précisé l'origine de l'engin."
)


def news_page(headline: str, paragraphs: list[str], *, published: str | None, decoys: int) -> str:
    """A news page as sites serve them: the article inside menus, asides, banners, comments.
    A page with no `published` states no date."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    stated = f'<meta property="article:published_time" content="{published}">' if published else ""
    shown = f'<time datetime="{published}">{published}</time>' if published else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{headline} | Example News</title>
<meta property="og:site_name" content="Example News">
{stated}
</head><body>
<div class="cookie-banner">We use cookies. {decoy(decoys)} Accept all?</div>
<nav><ul><li><a href="/">Home</a></li>
<li><a href="/world">{decoy(decoys + 1)}</a></li></ul></nav>
<main><article><h1>{headline}</h1>{shown}
{body}
</article>
<aside class="related"><h2>Related stories</h2><ul>
<li><a href="/x">{decoy(decoys + 2)}</a></li>
<li><a href="/y">{decoy(decoys + 3)}</a></li></ul></aside>
<section class="comments"><h2>Comments</h2><p>{decoy(decoys + 4)}</p></section>
</main><footer>© Example News. {decoy(decoys + 5)}</footer></body></html>"""


def warc_record(kind: str, headers: dict[str, str], block: bytes, number: int) -> bytes:
    """One record, gzipped on its own as crawlers write them (`.warc.gz` is a gzip member per
    record)."""
    fields = {
        "WARC-Type": kind,
        "WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{number:012d}>",
        "WARC-Date": CRAWLED + "T06:00:00Z",
        **headers,
        "Content-Length": str(len(block)),
    }
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return gzip.compress(head.encode() + block + b"\r\n\r\n")


def warc_response(number: int, uri: str, content_type: str, payload: bytes) -> bytes:
    http = (
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    headers = {"WARC-Target-URI": uri, "Content-Type": "application/http; msgtype=response"}
    return warc_record("response", headers, http, number)


def crawl() -> bytes:
    request = b"GET /world/1 HTTP/1.1\r\nHost: news.example\r\n\r\n"
    return b"".join(
        [
            warc_record(
                "warcinfo", {"Content-Type": "application/warc-fields"}, b"software: x\r\n", 1
            ),
            warc_record(
                "request",
                {
                    "WARC-Target-URI": "https://news.example/world/1",
                    "Content-Type": "application/http; msgtype=request",
                },
                request,
                2,
            ),
            warc_response(
                3,
                "https://news.example/world/1",
                "text/html; charset=utf-8",
                news_page(
                    "Militants step up attacks",
                    paragraphs(101),
                    published=None,
                    decoys=900,
                ).encode(),
            ),
            warc_response(4, "https://news.example/report.pdf", "application/pdf", b"%PDF-1.7 x"),
            warc_response(
                5,
                "https://news.example/world/2",
                "text/html; charset=utf-8",
                news_page(
                    "Attacks in the north", paragraphs(102), published="2024-07-16", decoys=910
                ).encode(),
            ),
        ]
    )


CRAWLED = "2024-07-18"
FILLER = (
    "Residents said the roads into the province were quiet by the afternoon, and the local "
    "council met to discuss repairs to the water network and the schools that had closed. "
    "Officials declined to say when the next convoy would leave the capital."
)


def paragraphs(number: int) -> list[str]:
    return [FILLER, f"{figure(number)} Officials gave no further details.", FILLER, FILLER]


def write_archive(root: Path) -> Path:
    archive = root / "archive"
    (archive / "pages").mkdir(parents=True)
    (archive / "text").mkdir()
    (archive / "crawls").mkdir()
    (archive / "crawls" / "cc-news.warc.gz").write_bytes(crawl())
    (archive / "pages" / "attacks.html").write_text(
        news_page("A day of attacks", paragraphs(103), published="2024-07-17", decoys=920),
        encoding="utf-8",
    )
    arabic_page = news_page(
        "هجمات في الشمال",
        [ARABIC_PARAGRAPH, f"{figure(104)} {ARABIC_PARAGRAPH}", ARABIC_PARAGRAPH],
        published="2024-07-17",
        decoys=930,
    ).replace('<meta charset="utf-8">', '<meta charset="windows-1256">')
    (archive / "pages" / "arabic.html").write_bytes(arabic_page.encode("cp1256"))
    utf16 = f"date 2024-07-17\n{FRENCH_PARAGRAPH}\n\n{figure(105)}\n\n{FRENCH_PARAGRAPH}\n"
    (archive / "text" / "utf16.txt").write_bytes(codecs.BOM_UTF16_LE + utf16.encode("utf-16-le"))
    arabic = f"date 2024-07-17\n{ARABIC_PARAGRAPH}\n\n{figure(106)}\n\n{ARABIC_PARAGRAPH * 3}\n"
    (archive / "text" / "arabic.txt").write_bytes(arabic.encode("cp1256"))
    french = f"date 2024-07-17\n{FRENCH_PARAGRAPH}\n\n{figure(107)}\n\n{FRENCH_PARAGRAPH * 3}\n"
    (archive / "text" / "french.txt").write_bytes(french.encode("latin-1"))
    (archive / "text" / "report.txt").write_text(long_report(), encoding="utf-8")
    return archive


LONG_FIGURES = (200, 201, 202, 203, 204, 205, 206)


def long_report() -> str:
    """A 250,000-character report, a figure at each seventh of it (so in several chunks)."""
    block = "\n\n".join([FILLER] * 4)
    parts = []
    for number in LONG_FIGURES:
        parts.append(figure(number))
        parts.extend([block] * 41)
    return "date 2024-07-17\n" + "\n\n".join(parts)[:249_999] + "."


def coder(seen: list[dict[str, Any]]) -> Any:
    """The fake server's answer: a statistic for each figure sentence in the request's article
    (a test fixture: it proves the plumbing, never a reading)."""

    def answer(body: dict[str, Any]) -> str:
        seen.append(body)
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        statistics = [
            attacks_statistic(int(found.group(1)), found.group(0))
            for found in _FIGURE.finditer(user)
        ]
        return json.dumps({"incidents": [], "statistics": statistics})

    return answer


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_an_archive_as_it_comes_is_extracted_whole_with_no_page_furniture_sent(
    tmp_path: Path,
) -> None:
    archive = write_archive(tmp_path)
    out = tmp_path / "out"
    seen: list[dict[str, Any]] = []
    with FakeOpenAIServer(ServerSettings(answer=coder(seen))) as server:
        result = CliRunner().invoke(
            main,
            [
                "run",
                str(archive),
                "--out",
                str(out),
                "--base-url",
                server.base_url,
                "--model",
                "local-model",
            ],
            env={"OPENAI_API_KEY": ""},
        )
    assert result.exit_code == 0, result.output
    assert read_jsonl(out / "failures.jsonl") == []

    articles = {a["id"]: a for a in read_jsonl(out / "articles.jsonl")}
    assert len(articles) == 8  # two crawled pages, two saved pages, four text files

    # Every figure of every article was extracted, and none of the page furniture's decoys.
    statistics = read_jsonl(out / "statistics.jsonl")
    values = sorted(s["value"] for s in statistics)
    assert values == sorted([101, 102, 103, 104, 105, 106, 107, *LONG_FIGURES])
    bodies = json.dumps(seen, ensure_ascii=False)
    assert "decoy province" not in bodies
    assert "We use cookies" not in bodies
    assert "Related stories" not in bodies

    # Every offset slices the whole article's text to its quote, chunked or not.
    for statistic in statistics:
        text = articles[statistic["provenance"]["article_id"]]["text"]
        for evidence in statistic["evidence"]:
            assert text[evidence["start"] : evidence["end"]] == evidence["quote"]
    (long_one,) = [a for a in articles.values() if len(a["text"]) == 250_000]
    chunks = {
        s["provenance"]["chunks"]
        for s in statistics
        if s["provenance"]["article_id"] == long_one["id"]
    }
    assert len(chunks) == 1
    (chunk_count,) = chunks
    assert chunk_count > 1

    # Each article says how its bytes were read, and the pages gave their metadata.
    encodings = {a["source"]: a["encoding"] for a in articles.values()}
    assert encodings[str(archive / "text" / "utf16.txt")] == "utf-16-le"
    assert encodings[str(archive / "text" / "arabic.txt")] == "cp1256"
    assert encodings[str(archive / "text" / "french.txt")] in {"cp1252", "iso8859-1"}
    crawled = [a for a in articles.values() if "/world/" in (a["url"] or "")]
    assert {(a["url"], a["published"]) for a in crawled} == {
        ("https://news.example/world/1", CRAWLED),
        ("https://news.example/world/2", "2024-07-16"),
    }
    pages = {a["title"]: a for a in articles.values() if a["source"] == "Example News"}
    assert set(pages) == {
        "Militants step up attacks",
        "Attacks in the north",
        "A day of attacks",
        "هجمات في الشمال",
    }
    assert pages["هجمات في الشمال"]["encoding"] == "cp1256"

    with sqlite3.connect(out / "ledger.sqlite") as db:
        (logged,) = db.execute("SELECT chunks FROM articles WHERE id = ?", (long_one["id"],))
    assert logged == (chunk_count,)

    # The crawl's other records were counted, not read and not failed.
    ledger = Ledger.open(out)
    try:
        assert ledger.skipped_counts() == {
            "WARC request records": 1,
            "WARC responses of application/pdf": 1,
            "WARC warcinfo records": 1,
        }
    finally:
        ledger.close()
