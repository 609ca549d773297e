"""Archives in any encoding: text files, Excel's CSV exports, JSON Lines with a byte-order mark.

Each article says how its bytes were read (`Article.encoding`); its id stays the hash of its
text, however the text was stored.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from pathlib import Path

import pytest

from sitrep.model.article import content_id
from sitrep.run.readers import InputItem, count_inputs, read_archives

ARABIC = (
    "قال مسؤولون عسكريون إن طائرة مسيرة هاجمت قاعدة عين الأسد الجوية صباح اليوم، "
    "ولم تقع إصابات. وأضافوا أن الهجوم هو الثالث هذا الأسبوع."
)
FRENCH = (
    "Le ministère a déclaré qu'une frappe aérienne a touché la base près de Kirkouk à l'aube ; "
    "deux soldats blessés, selon l'armée."
)
SPANISH = (
    "Un ataque con drones contra la base aérea dejó dos heridos, según informó el ejército. "
    "Las autoridades señalaron que la investigación continúa."
)


def items_of(path: Path) -> list[InputItem]:
    items = list(read_archives([path]))
    assert count_inputs([path]) == len(items)
    return items


def one(path: Path) -> InputItem:
    (item,) = items_of(path)
    return item


MARKED = [
    pytest.param(codecs.BOM_UTF16_LE, "utf-16-le", id="utf-16-le"),
    pytest.param(codecs.BOM_UTF16_BE, "utf-16-be", id="utf-16-be"),
    pytest.param(codecs.BOM_UTF32_LE, "utf-32-le", id="utf-32-le"),
    pytest.param(codecs.BOM_UTF32_BE, "utf-32-be", id="utf-32-be"),
]


@pytest.mark.parametrize(("mark", "codec"), MARKED)
def test_text_file_with_a_byte_order_mark_is_read_in_its_encoding(
    tmp_path: Path, mark: bytes, codec: str
) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes(mark + f"date 2024-07-17\n{ARABIC}".encode(codec))
    article = one(path).article
    assert article is not None
    assert (article.text, article.encoding, str(article.published)) == (ARABIC, codec, "2024-07-17")
    assert article.id == content_id(ARABIC)


@pytest.mark.parametrize(
    ("name", "data", "text", "encodings"),
    [
        ("arabic.txt", ARABIC.encode("cp1256"), ARABIC, {"cp1256"}),
        ("french.md", FRENCH.encode("latin-1"), FRENCH, {"cp1252", "iso8859-1", "iso8859-15"}),
        ("spanish.txt", SPANISH.encode("latin-1"), SPANISH, {"cp1252"}),
    ],
)
def test_text_file_in_a_windows_or_latin_code_page_is_detected(
    tmp_path: Path, name: str, data: bytes, text: str, encodings: set[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    article = one(path).article
    assert article is not None
    assert article.text == text
    assert article.encoding in encodings


def test_binary_file_named_txt_is_still_an_error_saying_binary(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    item = one(path)
    assert item.article is None
    assert item.error == "NUL byte at offset 8 and no byte-order mark: binary data, not text"


def test_html_page_in_its_declared_charset_is_read_in_it(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(
        b'<html><head><meta charset="windows-1256"><title>t</title></head><body><p>'
        + ARABIC.encode("cp1256")
        + b"</p></body></html>"
    )
    article = one(page).article
    assert article is not None
    assert (article.text, article.encoding) == (ARABIC, "cp1256")


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue()


ROWS = [
    ["text", "published", "title"],
    [FRENCH, "2024-03-05", "Kirkouk"],
    ['He said "no", twice; then left.\tTabbed.', "2024-03-06", ""],
    [SPANISH, "", "Base aérea"],
]


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_excel_unicode_text_export_utf16_with_tabs_is_read_row_by_row(
    tmp_path: Path, gzipped: bool
) -> None:
    # Excel's "Unicode Text" export: UTF-16 LE with its byte-order mark, tab-separated.
    data = codecs.BOM_UTF16_LE + csv_text(ROWS, "\t").encode("utf-16-le")
    path = tmp_path / ("export.csv.gz" if gzipped else "export.csv")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    items = items_of(path)
    assert [item.error for item in items] == [None, None, None]
    articles = [item.article for item in items if item.article is not None]
    assert [a.text for a in articles] == [FRENCH, ROWS[2][0], SPANISH]
    assert [a.title for a in articles] == ["Kirkouk", None, "Base aérea"]
    assert {a.encoding for a in articles} == {"utf-16-le"}
    assert str(articles[0].published) == "2024-03-05"


def test_excel_csv_in_windows_1252_is_detected_and_read(tmp_path: Path) -> None:
    rows = [["text", "published"]] + [[f"{SPANISH} ({n})", "2024-03-05"] for n in range(20)]
    path = tmp_path / "excel.csv"
    path.write_bytes(csv_text(rows).encode("cp1252"))
    articles = [item.article for item in items_of(path)]
    assert [a.text if a else None for a in articles] == [row[0] for row in rows[1:]]
    assert {a.encoding if a else None for a in articles} == {"cp1252"}


def test_excel_csv_in_windows_1256_with_semicolons_is_read(tmp_path: Path) -> None:
    rows = [["text", "source"]] + [[f"{ARABIC} {n}", "وكالة"] for n in range(5)]
    path = tmp_path / "arabic.csv"
    path.write_bytes(csv_text(rows, ";").encode("cp1256"))
    articles = [item.article for item in items_of(path)]
    assert [(a.text, a.source, a.encoding) if a else None for a in articles] == [
        (row[0], row[1], "cp1256") for row in rows[1:]
    ]


def test_csv_decoded_as_a_stream_reads_past_the_sample_it_was_told_from(tmp_path: Path) -> None:
    rows = [["text"]] + [[f"{ARABIC} {n}"] for n in range(1_000)]  # far over the 64 KiB sample
    data = codecs.BOM_UTF16_BE + csv_text(rows).encode("utf-16-be")
    assert len(data) > 4 * 65_536
    path = tmp_path / "long.csv"
    path.write_bytes(data)
    items = items_of(path)
    assert len(items) == 1_000
    assert items[-1].article is not None
    assert items[-1].article.text == f"{ARABIC} 999"


def test_a_byte_past_the_sample_not_in_its_encoding_fails_its_own_row_naming_it(
    tmp_path: Path,
) -> None:
    rows = [["text", "title"]] + [[f"{ARABIC} {n}", "t"] for n in range(300)]
    utf8 = csv_text(rows).encode()
    assert len(utf8) > 65_536  # the sample is UTF-8; the bad byte comes after it
    path = tmp_path / "mixed.csv"
    path.write_bytes(utf8 + b"second,caf\xe9\r\nthird,three\r\n")
    items = items_of(path)
    assert [item.error for item in items[-3:]] == [
        None,
        "row is not UTF-8 text: byte 0xe9 in `title` at character 4",
        None,
    ]
    assert items[-2].location == f"{path}:row 301"


def test_binary_file_named_csv_is_one_error_not_a_row_per_line(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\n" * 50)
    item = one(path)
    assert item.error == (
        "not CSV text: NUL byte at offset 5 and no byte-order mark: binary data, not text"
    )


def test_jsonl_with_a_utf16_byte_order_mark_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "wide.jsonl"
    lines = f'{{"text": "{ARABIC}"}}\n\n{{"text": "second"}}\n'
    path.write_bytes(codecs.BOM_UTF16_LE + lines.encode("utf-16-le"))
    items = items_of(path)
    assert [item.location for item in items] == [f"{path}:line 1", f"{path}:line 3"]
    assert [(i.article.text, i.article.encoding) if i.article else None for i in items] == [
        (ARABIC, "utf-16-le"),
        ("second", "utf-16-le"),
    ]


def test_jsonl_line_not_utf8_fails_with_its_byte_and_column_and_its_neighbours_are_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b'{"text": "one"}\n{"text": "caf\xe9"}\n{"text": "three"}\n')
    items = items_of(path)
    assert [item.error for item in items] == [
        None,
        "not UTF-8 text: byte 0xe9 at column 14",
        None,
    ]
    assert items[0].article is not None
    assert items[0].article.encoding == "utf-8"
