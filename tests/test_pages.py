"""Saved news pages become their article: main text only, paragraph by paragraph, with the
page's own title, date, URL and site, decoded by the charset the page declares.

The pages in tests/data/pages/ are realistic news pages (menus, cookie banners, share
buttons, related stories about other attacks, newsletter boxes, comments, footers) in several
layouts; expected.json says, for each, what its article is and what must not reach the model.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sitrep.model.article import Article
from sitrep.run.pages import (
    NO_ARTICLE_TEXT,
    charset_param,
    declared_charset,
    decode_page,
    read_page,
)
from sitrep.run.readers import InputItem, count_inputs, read_archives

PAGES = Path(__file__).parent / "data" / "pages"
EXPECTED: list[dict[str, Any]] = json.loads((PAGES / "expected.json").read_text("utf-8"))["pages"]
ARTICLES = [pytest.param(page, id=page["file"]) for page in EXPECTED if not page.get("empty")]


def one(path: Path) -> InputItem:
    (item,) = read_archives([path])
    return item


def article_of(path: Path) -> Article:
    item = one(path)
    assert item.article is not None, item.error
    return item.article


@pytest.mark.parametrize("page", ARTICLES)
def test_page_keeps_every_article_paragraph_on_its_own_line_in_order(
    page: dict[str, Any],
) -> None:
    lines = article_of(PAGES / page["file"]).text.splitlines()
    assert [paragraph in lines for paragraph in page["paragraphs"]] == [True] * len(
        page["paragraphs"]
    )
    positions = [lines.index(paragraph) for paragraph in page["paragraphs"]]
    assert positions == sorted(positions)


@pytest.mark.parametrize("page", ARTICLES)
def test_page_drops_menus_banners_related_stories_comments_and_footer(
    page: dict[str, Any],
) -> None:
    text = article_of(PAGES / page["file"]).text
    assert [boilerplate for boilerplate in page["absent"] if boilerplate in text] == []


@pytest.mark.parametrize("page", ARTICLES)
def test_page_metadata_fills_title_date_url_and_source(page: dict[str, Any]) -> None:
    path = PAGES / page["file"]
    article = article_of(path)
    assert article.title == page["title"]
    assert article.published == date.fromisoformat(page["published"])
    assert article.url == page["url"]
    # The source is the site the page names, or its host; a page with neither is its file.
    assert article.source == (page["site"] or str(path))


def test_index_page_without_an_article_fails_with_the_reason() -> None:
    item = one(PAGES / "index-page.html")
    assert (item.article, item.error) == (None, NO_ARTICLE_TEXT)


def test_every_page_in_the_folder_is_described_and_counted() -> None:
    described = {page["file"] for page in EXPECTED}
    assert described == {path.name for path in PAGES.glob("*.html")}
    items = list(read_archives([PAGES]))
    pages = [item for item in items if item.skipped is None]
    assert len(pages) == len(described)
    # The description beside the pages is counted as not read, never read as an article.
    assert [(Path(i.location).name, i.skipped) for i in items if i.skipped] == [
        ("expected.json", ".json files")
    ]
    assert len(items) == count_inputs([PAGES])


def test_arabic_page_in_windows_1256_is_decoded_by_its_meta_charset() -> None:
    data = (PAGES / "arabic-cp1256.html").read_bytes()
    assert declared_charset(data) == "windows-1256"
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert decode_page(data).text == data.decode("cp1256")


def test_http_equiv_content_type_declares_the_charset_too() -> None:
    data = (PAGES / "french-latin1.html").read_bytes()
    assert declared_charset(data) == "iso-8859-1"
    assert "Tillabéri" in article_of(PAGES / "french-latin1.html").text


CYRILLIC = "Беспилотник сбит над городом, сообщили власти."


def cyrillic_page(charset: str) -> bytes:
    head = f'<html><head><meta charset="{charset}"><title>x</title></head><body>'
    return head.encode("ascii") + f"<p>{CYRILLIC}</p></body></html>".encode("cp1251")


def test_the_declared_charset_decides_between_encodings_the_bytes_are_valid_in() -> None:
    assert CYRILLIC in decode_page(cyrillic_page("windows-1251")).text
    # The same bytes read as KOI8-R, because the page says so: the declaration was honoured.
    as_declared = cyrillic_page("koi8-r")
    assert CYRILLIC.encode("cp1251").decode("koi8-r") in decode_page(as_declared).text
    # A charset from the HTTP header is told to the decoder before the page's own.
    assert CYRILLIC in decode_page(as_declared, declared="windows-1251").text


def test_charset_param_reads_the_content_type_header() -> None:
    assert charset_param('text/html; charset="Windows-1256"') == "windows-1256"
    assert charset_param("text/html") is None
    assert charset_param(None) is None


def test_page_with_nul_bytes_fails_as_binary_data(tmp_path: Path) -> None:
    path = tmp_path / "broken.html"
    path.write_bytes(b"<html><body><p>Rockets\x00\x00 hit</p></body></html>")
    item = one(path)
    assert item.article is None
    assert item.error == "NUL byte at offset 22 and no byte-order mark: binary data, not text"


def test_a_leading_date_line_of_the_archive_wins_over_the_page_date(tmp_path: Path) -> None:
    path = tmp_path / "dated.html"
    path.write_bytes(b"date 2024-07-20\n" + (PAGES / "wire-article.html").read_bytes())
    article = article_of(path)
    assert article.published == date(2024, 7, 20)
    assert article.title == "Drones target US base in western Iraq, two intercepted"


def test_jsonl_row_fields_win_over_the_page_metadata_and_fill_the_rest(tmp_path: Path) -> None:
    html = (PAGES / "wire-article.html").read_text("utf-8")
    path = tmp_path / "rows.jsonl"
    rows = [
        {"text": html, "published": "2024-07-18", "title": "Row title", "source": "Archive"},
        {"text": html, "url": "https://archive.example/a"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    stated, bare = (item.article for item in read_archives([path]))
    assert stated is not None
    assert bare is not None
    assert (stated.published, stated.title, stated.source) == (
        date(2024, 7, 18),
        "Row title",
        "Archive",
    )
    assert stated.url == EXPECTED[0]["url"]
    assert (bare.published, bare.title, bare.source) == (
        date(2024, 7, 17),
        "Drones target US base in western Iraq, two intercepted",
        "Meridian Wire",
    )
    assert bare.url == "https://archive.example/a"
    assert bare.text == stated.text
    assert EXPECTED[0]["paragraphs"][0] in bare.text.splitlines()


def test_csv_row_with_an_index_page_fails_with_the_reason(tmp_path: Path) -> None:
    html = (PAGES / "index-page.html").read_text("utf-8")
    path = tmp_path / "rows.csv"
    path.write_text('text\n"' + html.replace('"', '""') + '"\n', "utf-8")
    item = one(path)
    assert (item.location, item.error) == (f"{path}:row 1", NO_ARTICLE_TEXT)


def test_read_page_uses_the_given_url_when_the_page_names_none() -> None:
    html = (PAGES / "regional-main.html").read_text("utf-8")
    page = read_page(html, url="https://bornodaily.example/2024/11/07/dalwa/")
    assert page.url == "https://bornodaily.example/2024/11/07/dalwa/"
    assert page.site == "bornodaily.example"


_STORY = "".join(
    f"<p>Gunmen attacked the checkpoint at dawn on day {n}, killing two soldiers and wounding"
    " four others, a provincial police officer said by telephone.</p>"
    for n in range(4)
)


def test_a_page_whose_body_class_names_cookies_is_read_not_cut_as_a_banner() -> None:
    html = (
        '<html><head><title>t</title></head><body class="cookies-not-set">'
        f"<article>{_STORY}</article></body></html>"
    )
    assert "killing two soldiers" in read_page(html).text


def test_navigation_asides_and_footers_never_reach_the_article_text() -> None:
    html = (
        "<html><head><title>t</title></head><body>"
        '<nav><ul><li><a href="/a">Menu entry about a rocket strike</a></li></ul></nav>'
        f"<main><article>{_STORY}<aside><p>Aside: a car bomb in another city killed nine"
        " people, officials said on Monday.</p></aside></article></main>"
        "<footer><p>Footer: all rights reserved by the example newspaper group.</p></footer>"
        "</body></html>"
    )
    text = read_page(html).text
    assert text.count("killing two soldiers") == 4
    assert "Menu entry" not in text
    assert "Aside:" not in text
    assert "Footer:" not in text


def test_metadata_is_read_from_the_furniture_that_extraction_cuts() -> None:
    # The date is stated only in the page's JSON-LD and its footer: both cut before extraction.
    html = (
        '<html><head><title>t</title><script type="application/ld+json">'
        '{"@type": "NewsArticle", "datePublished": "2024-05-06T08:00:00Z"}</script></head>'
        f"<body><article><h1>Checkpoint attacked</h1>{_STORY}</article>"
        "<footer>Footer text</footer></body></html>"
    )
    page = read_page(html)
    assert (page.title, page.published) == ("Checkpoint attacked", date(2024, 5, 6))


def test_a_page_whose_only_text_is_its_menu_has_visible_text_but_no_article() -> None:
    html = (
        "<html><head><title>t</title></head><body><nav><ul>"
        + "".join(f'<li><a href="/s{n}">Section {n}</a></li>' for n in range(30))
        + "</ul></nav></body></html>"
    )
    with pytest.raises(ValueError, match="no article text"):
        read_page(html)
