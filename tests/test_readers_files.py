"""Which files are read, which are counted as not read, and why a row or object has no text.

Nothing under an archive passes in silence: every file is read, fails with its reason, or is
counted by kind (`InputItem.skipped`), and `count_inputs` agrees with what is yielded.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sitrep.run.readers import InputItem, count_inputs, read_archives


def items_of(*paths: Path) -> list[InputItem]:
    items = list(read_archives(paths))
    assert count_inputs(paths) == len(items)
    for item in items:
        assert [item.article, item.error, item.skipped].count(None) == 2, item
    return items


def one(path: Path) -> InputItem:
    (item,) = items_of(path)
    return item


def text_of(item: InputItem) -> str | None:
    return item.article.text if item.article is not None else None


@pytest.mark.parametrize("name", ["a.txt.gz", "a.md.gz", "a.TXT.GZ"])
def test_gzipped_text_file_is_read_with_its_date_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"date 2024-03-05\nRockets struck the port."))
    article = one(path).article
    assert article is not None
    assert (str(article.published), article.text) == ("2024-03-05", "Rockets struck the port.")


@pytest.mark.parametrize("name", ["page.html.gz", "page.htm.gz"])
def test_gzipped_page_is_reduced_to_its_visible_text(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"<html><script>x()</script><p>Drones were downed.</p></html>"))
    assert text_of(one(path)) == "Drones were downed."


@pytest.mark.parametrize(
    ("content", "texts"),
    [
        pytest.param(b'\n {"text": "one"}\n{"text": "two"}\n', ["one", "two"], id="json-lines"),
        pytest.param(b"id,text\n1,first\n2,second\n", ["first", "second"], id="csv"),
        pytest.param(b"text\tsource\nfirst\tAP\n", ["first"], id="tab-separated"),
        pytest.param(b"<!doctype html><p>A page.</p>", ["A page."], id="html"),
        pytest.param(
            b"date 2024-01-02\nPlain text, no header.", ["Plain text, no header."], id="text"
        ),
    ],
)
def test_bare_gz_is_read_for_what_its_content_shows(
    tmp_path: Path, content: bytes, texts: list[str]
) -> None:
    path = tmp_path / "download.gz"
    path.write_bytes(gzip.compress(content))
    assert [text_of(item) for item in items_of(path)] == texts


def test_bare_gz_of_binary_data_fails_without_being_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(gzip.compress(b"article.txt\x00\x00\x00\x000000644" + bytes(2000)))
    assert one(path).error == (
        "not text once decompressed: NUL byte at offset 11 and no byte-order mark: "
        "binary data, not text"
    )


@pytest.mark.parametrize("name", ["a.txt.gz", "a.gz", "a.jsonl.gz", "a.csv.gz"])
def test_file_that_is_not_gzip_fails_as_such(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"not gzip at all")
    item = one(path)
    assert (item.location, item.error) == (
        str(path),
        "not a readable gzip file: Not a gzipped file (b'no')",
    )


@pytest.mark.parametrize("name", ["a.txt.gz", "a.gz"])
def test_gzip_cut_short_fails_with_the_reason(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"Rockets struck the port. " * 100)[:-20])
    assert one(path).error == (
        "not a readable gzip file: "
        "Compressed file ended before the end-of-stream marker was reached"
    )


def test_jsonl_gzip_cut_short_keeps_the_lines_before_and_fails_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl.gz"
    lines = "".join(
        json.dumps({"text": f"Report {n}: " + hashlib.sha256(str(n).encode()).hexdigest()}) + "\n"
        for n in range(2_000)
    )
    path.write_bytes(gzip.compress(lines.encode())[:-2000])
    items = items_of(path)
    assert all(item.article is not None for item in items[:-1])
    assert items[-1].location == f"{path}:line {len(items)}"
    assert (items[-1].error or "").startswith("unreadable from here on: Compressed file ended")


def build_mixed_directory(root: Path) -> Path:
    archive = root / "archive"
    (archive / ".git" / "objects").mkdir(parents=True)
    (archive / ".git" / "objects" / "ab12").write_bytes(b"x")
    (archive / "reports").mkdir()
    (archive / "reports" / "one.txt").write_text("Rockets struck the port.", "utf-8")
    for n in range(3):
        (archive / "reports" / f"scan{n}.pdf").write_bytes(b"%PDF-1.7")
    (archive / "reports" / "SCAN.PDF").write_bytes(b"%PDF-1.7")
    (archive / "reports" / "one.txt~").write_text("an older draft", "utf-8")
    (archive / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (archive / "LICENSE").write_text("terms", "utf-8")
    (archive / "notes.docx").write_bytes(b"PK\x03\x04")
    return archive


def test_files_sitrep_does_not_read_are_counted_by_kind_and_never_read(tmp_path: Path) -> None:
    archive = build_mixed_directory(tmp_path)
    items = items_of(archive)
    assert [text_of(item) for item in items if item.article] == ["Rockets struck the port."]
    assert [item.error for item in items if item.error] == []
    skipped = sorted(
        (Path(item.location).relative_to(archive).as_posix(), item.skipped or "")
        for item in items
        if item.skipped
    )
    assert skipped == [
        (".DS_Store", "hidden files"),
        (".git", "hidden directories (not searched)"),
        ("LICENSE", "files with no suffix"),
        ("notes.docx", ".docx files"),
        ("reports/SCAN.PDF", ".pdf files"),
        ("reports/one.txt~", "editor backups (ending in ~)"),
        ("reports/scan0.pdf", ".pdf files"),
        ("reports/scan1.pdf", ".pdf files"),
        ("reports/scan2.pdf", ".pdf files"),
    ]


def test_a_hidden_file_or_backup_named_directly_is_read(tmp_path: Path) -> None:
    hidden = tmp_path / ".draft.txt"
    hidden.write_text("Drones were downed.", "utf-8")
    assert text_of(one(hidden)) == "Drones were downed."


def test_a_file_of_unknown_type_named_directly_fails_rather_than_being_counted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "README"
    path.write_text("terms", "utf-8")
    assert (one(path).error or "").startswith("unsupported file type: no suffix (sitrep reads")


def test_a_linked_directory_is_counted_not_followed_and_read_when_named(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "a.txt").write_text("Linked report.", "utf-8")
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "b.txt").write_text("Own report.", "utf-8")
    os.symlink(target, archive / "linked", target_is_directory=True)
    items = items_of(archive)
    assert [(Path(i.location).name, text_of(i), i.skipped) for i in items] == [
        ("linked", None, "linked directories (not followed)"),
        ("b.txt", "Own report.", None),
    ]
    assert [text_of(item) for item in items_of(archive / "linked")] == ["Linked report."]


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists any directory")
def test_a_directory_that_cannot_be_listed_is_an_error_at_its_path(tmp_path: Path) -> None:
    locked = tmp_path / "archive" / "locked"
    locked.mkdir(parents=True)
    (locked / "a.txt").write_text("x", "utf-8")
    locked.chmod(0)
    try:
        items = items_of(tmp_path / "archive")
    finally:
        locked.chmod(0o755)
    assert [(item.location, item.error) for item in items] == [
        (str(locked), "cannot list directory: Permission denied")
    ]


def test_unlistable_directory_errors_are_reported_through_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same as above where the tests run as root: os.walk reports through `onerror`.
    archive = tmp_path / "archive"
    archive.mkdir()
    real_walk = os.walk

    def walk(
        top: str | os.PathLike[str],
        topdown: bool = True,
        onerror: Callable[[OSError], object] | None = None,
        followlinks: bool = False,
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        assert onerror is not None
        onerror(PermissionError(13, "Permission denied", str(archive / "locked")))
        yield from real_walk(top, topdown, None, followlinks)

    monkeypatch.setattr(os, "walk", walk)
    (archive / "a.txt").write_text("Own report.", "utf-8")
    items = items_of(archive)
    assert [(Path(i.location).name, i.error, text_of(i)) for i in items] == [
        ("locked", "cannot list directory: Permission denied", None),
        ("a.txt", None, "Own report."),
    ]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jsonl", b"", "no articles: the file is empty"),
        ("blank.jsonl", b"\n  \n\n", "no articles: the file holds only blank lines"),
        ("empty.csv", b"", "no articles: the file has no header row"),
        ("header.csv", b"text,published\r\n", "no articles: the file has a header row and no rows"),
    ],
)
def test_a_table_file_with_no_articles_is_one_error_not_nothing(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert (one(path).location, one(path).error) == (str(path), reason)


RENAME_BODY = "; if `body` holds the article, rename it to `text`"
CASE = "; names are case-sensitive: rename `Text` to `text`"
OBJECTS = [
    (
        {"id": "1", "title": "t", "body": "The text."},
        "no `text` key (keys present: id, title, body)" + RENAME_BODY,
    ),
    ({"Text": "The text.", "url": "u"}, "no `text` key (keys present: Text, url)" + CASE),
    ({"title": "only a title"}, "no `text` key (keys present: title)"),
    ({}, "no `text` key (no keys at all)"),
    ({"text": None}, "`text` is null"),
    ({"text": None, "body": "The text."}, "`text` is null" + RENAME_BODY),
    ({"text": "", "BODY": "The text."}, "`text` is empty" + RENAME_BODY.replace("body", "BODY")),
    ({"text": ""}, "`text` is empty"),
    ({"text": " \n\t"}, "`text` is only whitespace"),
    ({"text": 42}, "`text` is a number, not a string"),
    ({"text": 4.2}, "`text` is a number, not a string"),
    ({"text": True}, "`text` is a boolean, not a string"),
    ({"text": ["a", "b"]}, "`text` is a list, not a string"),
    ({"text": {"en": "a"}}, "`text` is an object, not a string"),
]


@pytest.mark.parametrize(("fields", "reason"), OBJECTS)
def test_an_object_without_text_says_precisely_why(
    tmp_path: Path, fields: dict[str, object], reason: str
) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps(fields) + "\n", "utf-8")
    assert one(path).error == reason


def test_a_long_list_of_keys_is_cut_short_in_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps({f"k{n}": n for n in range(20)}) + "\n", "utf-8")
    assert one(path).error == (
        "no `text` key (keys present: k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, and 8 more)"
    )


SHORT_ROW = "no `text` value: the row has fewer fields than the header's 3"
UNQUOTED = (
    "the row has 2 fields, the header 1: a field that holds the delimiter (',') must be quoted"
)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            b"id,body\r\n1,The text.\r\n",
            "no `text` column (columns present: id, body)" + RENAME_BODY,
        ),
        (b"id,text\r\n1,\r\n", "`text` is empty"),
        (b"id,text\r\n1,   \r\n", "`text` is only whitespace"),
        (b"id,text,title\r\n1\r\n", SHORT_ROW),
        (b"text\r\nRockets hit, killing 3\r\n", UNQUOTED),
    ],
)
def test_a_csv_row_without_text_says_precisely_why(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "feed.csv"
    path.write_bytes(content)
    assert one(path).error == reason


def test_empty_trailing_fields_after_the_header_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_bytes(b"text,published\r\nRockets hit.,2024-03-05,,\r\n")
    assert text_of(one(path)) == "Rockets hit."


def test_a_page_with_no_visible_text_says_so(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(b"<html><head><title>t</title></head><body><script>x()</script></body></html>")
    assert one(path).error == "the page has no visible text, only markup"
