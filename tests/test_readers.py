"""Archive readers: every input becomes exactly one article or one located error, lazily."""

from __future__ import annotations

import csv
import gzip
import inspect
import io
import json
import os
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import pytest

from sitrep.model.article import content_id
from sitrep.run.readers import InputItem, count_inputs, read_archives

Writer = Callable[[Path, bytes], Path]


def write_plain(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def write_gzip(path: Path, data: bytes) -> Path:
    target = path.with_name(path.name + ".gz")
    target.write_bytes(gzip.compress(data))
    return target


WRITERS = [pytest.param(write_plain, id="plain"), pytest.param(write_gzip, id="gzip")]


def items_of(*paths: Path) -> list[InputItem]:
    return list(read_archives(paths))


def one(path: Path) -> InputItem:
    (item,) = items_of(path)
    return item


def assert_well_formed(items: Iterable[InputItem]) -> None:
    for item in items:
        assert [item.article, item.error, item.skipped].count(None) == 2, item


def build_tree(root: Path) -> Path:
    tree = root / "tree"
    (tree / "nested" / "inner").mkdir(parents=True)
    (tree / "a.txt").write_text("date 2024-03-05\nRockets struck the port.", "utf-8")
    (tree / "b.md").write_text("# Heading\n\nDrones were intercepted.", "utf-8")
    (tree / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tree / "d.json").write_text('{"text": "a JSON file is not an article"}', "utf-8")
    (tree / "nested" / "e.html").write_text(
        "<html><head><title>Page title</title><style>p { color: red }</style>"
        "<script>alert('head')</script></head><body><h1>Headline</h1>"
        "<p>Visible paragraph.</p><script>track()</script></body></html>",
        "utf-8",
    )
    (tree / "nested" / "inner" / "f.txt").write_text(
        "date 2023-11-02 Shelling continued overnight.", "utf-8"
    )
    (tree / "nested" / "inner" / "g.txt").write_text("No date line in this one.", "utf-8")
    return tree


def test_directory_is_read_recursively_in_name_order_counting_other_files(tmp_path: Path) -> None:
    tree = build_tree(tmp_path)
    items = items_of(tree)
    assert_well_formed(items)
    assert [item.location for item in items if item.skipped is None] == [
        str(tree / "a.txt"),
        str(tree / "b.md"),
        str(tree / "nested" / "e.html"),
        str(tree / "nested" / "inner" / "f.txt"),
        str(tree / "nested" / "inner" / "g.txt"),
    ]
    assert all(item.error is None for item in items)
    assert [(item.location, item.skipped) for item in items if item.skipped is not None] == [
        (str(tree / "c.png"), ".png files"),
        (str(tree / "d.json"), ".json files"),
    ]


def test_text_files_take_the_leading_date_line_in_both_forms(tmp_path: Path) -> None:
    tree = build_tree(tmp_path)
    by_name = {Path(item.location).name: item.article for item in items_of(tree)}
    dated, same_line, undated, markdown = (
        by_name["a.txt"],
        by_name["f.txt"],
        by_name["g.txt"],
        by_name["b.md"],
    )
    assert dated is not None
    assert same_line is not None
    assert undated is not None
    assert markdown is not None
    assert (dated.published, dated.text) == (date(2024, 3, 5), "Rockets struck the port.")
    assert (same_line.published, same_line.text) == (
        date(2023, 11, 2),
        "Shelling continued overnight.",
    )
    assert (undated.published, undated.text) == (None, "No date line in this one.")
    assert markdown.text == "# Heading\n\nDrones were intercepted."
    assert dated.id == content_id("Rockets struck the port.")
    assert dated.source == str(tree / "a.txt")


def test_html_file_keeps_its_article_text_and_headline_and_drops_scripts_styles_and_head(
    tmp_path: Path,
) -> None:
    article = one(build_tree(tmp_path) / "nested" / "e.html").article
    assert article is not None
    assert article.text == "Visible paragraph."
    assert article.title == "Headline"
    assert article.id == content_id("Visible paragraph.")


def test_html_file_starting_with_another_tag_is_still_reduced_to_text(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<!-- saved from url=(0014)about:internet --><head><script>track()</script></head>"
        "<h1>Headline</h1><p>Visible paragraph.</p>",
        "utf-8",
    )
    article = one(page).article
    assert article is not None
    assert (article.text, article.title) == ("Visible paragraph.", "Headline")


JSONL_LINES = [
    json.dumps(
        {
            "text": "Rockets hit the port.",
            "published": "2024-03-05",
            "source": "Reuters",
            "url": "https://example.org/a",
            "title": "Port attack",
            "id": "custom-1",
        }
    ),
    "",
    json.dumps({"text": "Drones were downed.", "published": "2024-03-06T08:00:00"}),
    "{not json",
    "[1, 2]",
    json.dumps({"title": "no text here"}),
    json.dumps({"text": "   "}),
    json.dumps({"text": "Valid text.", "published": "yesterday"}),
    json.dumps({"text": "<p>Shelling resumed.</p><script>x()</script><p>Second.</p>"}),
]


@pytest.mark.parametrize("write", WRITERS)
def test_jsonl_lines_become_articles_or_errors_located_by_physical_line(
    tmp_path: Path, write: Writer
) -> None:
    path = write(tmp_path / "feed.jsonl", ("\n".join(JSONL_LINES) + "\n").encode())
    items = items_of(path)
    assert_well_formed(items)
    located = [(item.location.removeprefix(f"{path}:"), item.error) for item in items]
    assert [location for location, _ in located] == [f"line {n}" for n in (1, 3, 4, 5, 6, 7, 8, 9)]
    errors = dict(located)
    assert errors["line 1"] is None
    assert errors["line 3"] is None
    assert (errors["line 4"] or "").startswith("not valid JSON")
    assert errors["line 5"] == "not a JSON object"
    assert errors["line 6"] == "no `text` key (keys present: title)"
    assert errors["line 7"] == "`text` is only whitespace"
    assert errors["line 8"] == "published is not an ISO date: 'yesterday'"
    assert errors["line 9"] is None


@pytest.mark.parametrize("write", WRITERS)
def test_jsonl_fields_are_kept_and_a_missing_id_is_the_content_hash(
    tmp_path: Path, write: Writer
) -> None:
    path = write(tmp_path / "feed.jsonl", ("\n".join(JSONL_LINES) + "\n").encode())
    articles = [item.article for item in items_of(path) if item.article is not None]
    given, hashed, html = articles
    assert given.model_dump() == {
        "id": "custom-1",
        "text": "Rockets hit the port.",
        "published": date(2024, 3, 5),
        "source": "Reuters",
        "url": "https://example.org/a",
        "title": "Port attack",
        "encoding": "utf-8",
    }
    assert hashed.id == content_id("Drones were downed.")
    assert hashed.published == date(2024, 3, 6)
    assert hashed.source == f"{path}:line 3"
    assert (hashed.url, hashed.title) == (None, None)
    assert html.text == "Shelling resumed.\nSecond."
    assert html.id == content_id("Shelling resumed.\nSecond.")


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


CSV_ROWS = [
    ["text", "published", "source", "url", "title", "id"],
    ["Rockets hit the port.", "2024-03-05", "Reuters", "https://example.org/a", "Port", "c-1"],
    ["", "2024-03-06", "AP", "", "", ""],
    ["Line one\nLine two, with a comma", "", "", "", "", ""],
    ["Valid text.", "not-a-date", "", "", "", ""],
]


@pytest.mark.parametrize("write", WRITERS)
def test_csv_rows_become_articles_or_errors_located_by_row(tmp_path: Path, write: Writer) -> None:
    path = write(tmp_path / "feed.csv", csv_bytes(CSV_ROWS))
    items = items_of(path)
    assert_well_formed(items)
    assert [item.location for item in items] == [f"{path}:row {n}" for n in (1, 2, 3, 4)]
    first, empty, multiline, bad_date = items
    assert first.article is not None
    assert (first.article.id, first.article.source, first.article.published) == (
        "c-1",
        "Reuters",
        date(2024, 3, 5),
    )
    assert empty.error == "`text` is empty"
    assert multiline.article is not None
    assert multiline.article.text == "Line one\nLine two, with a comma"
    assert multiline.article.id == content_id("Line one\nLine two, with a comma")
    assert multiline.article.source == f"{path}:row 3"
    assert bad_date.error == "published is not an ISO date: 'not-a-date'"


def test_csv_with_a_utf8_bom_still_finds_the_text_column(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_bytes(CSV_ROWS[:2]))
    article = one(path).article
    assert article is not None
    assert article.text == "Rockets hit the port."


def test_jsonl_with_a_utf8_bom_reads_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "Rockets hit the port."}\n')
    article = one(path).article
    assert article is not None
    assert article.text == "Rockets hit the port."


def test_text_file_of_no_encoding_is_an_error_naming_the_first_byte_not_utf8(
    tmp_path: Path,
) -> None:
    item = one(write_plain(tmp_path / "noise.txt", bytes(range(1, 256)) * 20))
    assert (item.error or "").startswith("not UTF-8 (byte 0x80 at offset 127)")


def test_binary_file_is_an_error_not_an_article(tmp_path: Path) -> None:
    item = one(write_plain(tmp_path / "image.txt", b"\x89PNG\x00\x00\x00\rIHDR"))
    assert item.article is None
    assert "binary" in (item.error or "")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    item = one(write_plain(tmp_path / "empty.txt", b""))
    assert item.error == "article text is empty"


def test_missing_path_is_an_error_at_that_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "x.jsonl"
    item = one(missing)
    assert (item.location, item.error) == (str(missing), "no such file or directory")


def test_explicit_unsupported_file_is_an_error_saying_what_sitrep_reads(tmp_path: Path) -> None:
    item = one(write_plain(tmp_path / "x.pdf", b"%PDF-1.7"))
    assert (item.location, item.error) == (
        str(tmp_path / "x.pdf"),
        "unsupported file type: .pdf "
        "(sitrep reads .warc, .jsonl, .csv, .txt, .md, .html, .htm, each also gzipped)",
    )


def test_unreadable_inputs_get_distinct_ids_from_their_locations(tmp_path: Path) -> None:
    first, second = items_of(tmp_path / "a.txt", tmp_path / "b.txt")
    assert first.id.startswith("input-")
    assert first.id != second.id


def test_same_text_in_two_files_gives_two_items_with_one_article_id(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_plain(tmp_path / "one" / "x.txt", b"Identical report.")
    second = write_plain(tmp_path / "two" / "y.txt", b"date 2024-01-01\nIdentical report.")
    items = items_of(tmp_path)
    assert [item.location for item in items] == [str(first), str(second)]
    ids = [item.article.id for item in items if item.article is not None]
    assert ids == [content_id("Identical report.")] * 2


def test_count_inputs_equals_the_items_read(tmp_path: Path) -> None:
    tree = build_tree(tmp_path)
    write_plain(tree / "feed.jsonl", ("\n".join(JSONL_LINES) + "\n").encode())
    write_gzip(tree / "nested" / "feed.csv", csv_bytes(CSV_ROWS))
    write_plain(tree / "broken.txt", b"\xff\xfe")
    write_plain(tree / "empty.txt", b"")
    write_plain(tree / "bad.jsonl.gz", b"not gzip at all")
    pdf = write_plain(tmp_path / "x.pdf", b"%PDF")
    paths = [tree, pdf, tmp_path / "missing.csv"]
    items = items_of(*paths)
    assert_well_formed(items)
    assert len(items) == 5 + 2 + 8 + 4 + 1 + 1 + 1 + 1 + 1  # the .png and .json counted, not read
    assert count_inputs(paths) == len(items)


def test_count_inputs_ignores_blank_csv_lines_like_the_reader(tmp_path: Path) -> None:
    path = write_plain(tmp_path / "feed.csv", b"text\r\nfirst\r\n\r\nsecond\r\n\r\n")
    assert len(items_of(path)) == 2
    assert count_inputs([path]) == 2


def test_non_utf8_jsonl_line_keeps_the_valid_lines_before_it(tmp_path: Path) -> None:
    path = write_plain(
        tmp_path / "feed.jsonl",
        b'{"text": "one"}\n{"text": "two"}\n{"text": "thr\xffee"}\n',
    )
    items = items_of(path)
    assert [item.location for item in items] == [f"{path}:line {n}" for n in (1, 2, 3)]
    assert [item.error is None for item in items] == [True, True, False]
    assert "UTF-8" in (items[2].error or "").upper()


def test_read_archives_is_lazy_and_reads_no_further_than_asked(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    line = json.dumps({"text": "Rockets hit the port again."}) + "\n"
    total = 20_000
    path.write_text(line * total, "utf-8")
    items = read_archives([path])
    is_generator: bool = inspect.isgenerator(items)  # a bool: keeps mypy's type for `items`
    assert is_generator
    first = next(items)
    assert first.location == f"{path}:line 1"
    assert first.article is not None
    # Cut the file back to its first line: a lazy reader only has a buffer's worth left.
    os.truncate(path, len(line))
    rest = list(items)
    assert len(rest) < 1_000
    assert_well_formed(rest)
