"""Articles: decoding, the leading date line, rejected inputs and content-hash ids."""

from __future__ import annotations

import codecs
import hashlib
import re
from datetime import date
from pathlib import Path

import pytest

from conftest import SEED_FILES
from sitrep.errors import ArticleError
from sitrep.model.article import Article, content_id

BOM = b"\xef\xbb\xbf"
ARABIC = (
    "قال مسؤولون عسكريون إن طائرة مسيرة هاجمت قاعدة عين الأسد الجوية صباح اليوم، "
    "ولم تقع إصابات. وأضافوا أن الهجوم هو الثالث هذا الأسبوع."
)
FRENCH = (
    "Le ministère a déclaré qu'une frappe aérienne a touché la base près de Kirkouk à l'aube ; "
    "deux soldats blessés, selon l'armée."
)


def test_leading_date_line_sets_published_and_is_stripped_from_the_text() -> None:
    article = Article.from_bytes(b"date 2023-11-08\nMortar shells struck a checkpoint.\n")
    assert article.published == date(2023, 11, 8)
    assert article.text == "Mortar shells struck a checkpoint.\n"


def test_date_line_ending_in_crlf_is_stripped_with_its_line_break() -> None:
    article = Article.from_bytes(b"date 2023-11-08\r\nMortar shells struck.")
    assert (article.published, article.text) == (date(2023, 11, 8), "Mortar shells struck.")


def test_indented_date_followed_by_text_on_the_same_line_is_parsed() -> None:
    data = " date 2022-01-04 And “AFP” quoted an official source.\n\nMore.".encode()
    article = Article.from_bytes(data)
    assert article.published == date(2022, 1, 4)
    assert article.text == "And “AFP” quoted an official source.\n\nMore."


def test_seed_archive_file_has_its_date_parsed_and_stripped() -> None:
    article = Article.from_file(SEED_FILES["seed_000"])
    assert article.published == date(2022, 1, 4)
    assert article.text.startswith("And “AFP” quoted an official source")
    assert article.source == str(SEED_FILES["seed_000"])


def test_text_without_date_line_has_no_publication_date_and_is_kept_whole() -> None:
    article = Article.from_bytes(b"Mortar shells struck on 2023-11-07.")
    assert (article.published, article.text) == (None, "Mortar shells struck on 2023-11-07.")


def test_published_argument_overrides_the_date_line(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"date 2023-11-08\nMortar shells struck.")
    override = date(2020, 5, 1)
    for article in (
        Article.from_bytes(path.read_bytes(), published=override),
        Article.from_file(path, published=override),
    ):
        assert (article.published, article.text) == (override, "Mortar shells struck.")


def test_impossible_date_line_is_an_article_error() -> None:
    with pytest.raises(ArticleError, match="impossible date: 2024-02-30"):
        Article.from_bytes(b"date 2024-02-30\nText.")


def test_date_glued_to_more_digits_is_not_taken_as_a_date_line() -> None:
    article = Article.from_bytes(b"date 2024-01-0155 rest")
    assert (article.published, article.text) == (None, "date 2024-01-0155 rest")


@pytest.mark.parametrize(
    "data", [b"", b"   \n\t\r\n", BOM, b"date 2024-01-02\n", b"date 2024-01-02\n  \n"]
)
def test_empty_or_whitespace_only_article_is_rejected(data: bytes) -> None:
    with pytest.raises(ArticleError, match=r"^article text is empty$"):
        Article.from_bytes(data)


@pytest.mark.parametrize("text", ["", " \n\u00a0\t"])
def test_empty_text_is_rejected_by_from_text(text: str) -> None:
    with pytest.raises(ArticleError, match="empty"):
        Article.from_text(text)


def test_nul_bytes_are_rejected_as_binary() -> None:
    with pytest.raises(ArticleError, match=r"^NUL byte at offset 4 and no byte-order mark: binary"):
        Article.from_bytes(b"PK\x03\x04\x00\x00text")
    with pytest.raises(ArticleError, match="NUL characters: binary data"):
        Article.from_text("text\x00more")


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF16_LE + ARABIC.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + ARABIC.encode("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF32_LE + ARABIC.encode("utf-32-le"), "utf-32-le"),
        (codecs.BOM_UTF32_BE + ARABIC.encode("utf-32-be"), "utf-32-be"),
        (ARABIC.encode("cp1256"), "cp1256"),
        (ARABIC.encode(), "utf-8"),
    ],
)
def test_text_in_any_encoding_is_decoded_and_the_encoding_recorded(
    data: bytes, encoding: str
) -> None:
    article = Article.from_bytes(data)
    assert (article.text, article.encoding) == (ARABIC, encoding)
    assert article.id == content_id(ARABIC)  # the id is the text's, however it was stored


def test_a_utf_16_file_is_not_taken_for_binary_for_its_nul_bytes() -> None:
    data = codecs.BOM_UTF16_LE + "date 2024-07-17\nDrones struck.".encode("utf-16-le")
    assert b"\x00" in data
    article = Article.from_bytes(data)
    assert (article.published, article.text) == (date(2024, 7, 17), "Drones struck.")


def test_latin_1_text_is_decoded_as_a_western_code_page() -> None:
    article = Article.from_bytes(FRENCH.encode("latin-1"))
    assert article.text == FRENCH
    assert article.encoding in {"cp1252", "iso8859-1", "iso8859-15"}


def test_bytes_in_no_encoding_name_the_first_byte_that_is_not_utf8() -> None:
    noise = bytes(range(1, 256)) * 20
    with pytest.raises(ArticleError, match=r"^not UTF-8 \(byte 0x80 at offset 127\)"):
        Article.from_bytes(noise)


def test_invalid_utf8_after_a_bom_names_the_byte_and_its_offset_in_the_file() -> None:
    with pytest.raises(ArticleError, match=r"not UTF-8 text: .*\(byte 0xff\) at offset 5$"):
        Article.from_bytes(BOM + b"ab\xffcd")


def test_an_article_given_as_text_has_no_encoding_and_one_read_from_bytes_has() -> None:
    assert Article.from_text("Mortar shells struck.").encoding is None
    assert Article.from_bytes(b"Mortar shells struck.").encoding == "utf-8"
    assert Article.from_bytes(BOM + b"Mortar shells struck.").encoding == "utf-8"


def test_utf8_bom_is_dropped_before_the_date_line_is_read() -> None:
    article = Article.from_bytes(BOM + b"date 2024-01-02\nHello.")
    assert (article.published, article.text) == (date(2024, 1, 2), "Hello.")
    assert Article.from_bytes(BOM + b"Hello.").text == "Hello."


def test_id_is_the_first_16_hex_digits_of_the_texts_sha256() -> None:
    article = Article.from_text("Mortar shells struck.")
    assert article.id == hashlib.sha256(b"Mortar shells struck.").hexdigest()[:16]
    assert re.fullmatch(r"[0-9a-f]{16}", article.id)
    assert content_id("Mortar shells struck.") == article.id


def test_same_text_has_the_same_id_and_different_text_a_different_id() -> None:
    first = Article.from_text("Mortar shells struck.", source="a")
    again = Article.from_bytes(b"date 2023-11-08\nMortar shells struck.", source="b")
    other = Article.from_text("Mortar shells struck!")
    assert first.id == again.id
    assert first.id != other.id


def test_from_text_keeps_the_text_verbatim_and_takes_the_date_it_is_given() -> None:
    text = "date 2023-11-08\nMortar shells struck."
    article = Article.from_text(text, published=date(2023, 11, 9), url="https://example.org/a")
    assert (article.text, article.published) == (text, date(2023, 11, 9))
    assert article.url == "https://example.org/a"


def test_missing_file_is_an_article_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "missing.txt"
    with pytest.raises(ArticleError) as caught:
        Article.from_file(path)
    assert str(caught.value) == f"cannot read {path}: No such file or directory"


def test_directory_is_an_article_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match=re.escape(f"cannot read {tmp_path}: ")):
        Article.from_file(tmp_path)


def test_file_errors_are_prefixed_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "binary.txt"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(ArticleError) as caught:
        Article.from_file(path)
    assert str(caught.value) == (
        f"{path}: NUL byte at offset 0 and no byte-order mark: binary data, not text"
    )
