"""The one decoder: a byte-order mark decides, then UTF-8, the declared charset, detection."""

from __future__ import annotations

import codecs

import pytest

from sitrep.text.encoding import (
    BinaryDataError,
    UndecodableError,
    canonical_encoding,
    decode,
    sniff,
)

ARABIC = (
    "قال مسؤولون عسكريون إن طائرة مسيرة هاجمت قاعدة عين الأسد الجوية صباح اليوم، "
    "ولم تقع إصابات. وأضافوا أن الهجوم هو الثالث هذا الأسبوع."
)
FRENCH = (
    "Le ministère a déclaré qu'une frappe aérienne a touché la base près de Kirkouk à l'aube ; "
    "deux soldats blessés, selon l'armée."
)


@pytest.mark.parametrize(
    ("mark", "codec", "expected"),
    [
        (codecs.BOM_UTF8, "utf-8", "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32-be"),
    ],
)
def test_a_byte_order_mark_decides_the_encoding_and_is_not_part_of_the_text(
    mark: bytes, codec: str, expected: str
) -> None:
    decoded = decode(mark + ARABIC.encode(codec))
    assert (decoded.text, decoded.encoding, decoded.how) == (ARABIC, expected, "byte-order mark")


def test_utf_32_le_is_not_mistaken_for_utf_16_le_whose_mark_it_begins_with() -> None:
    assert decode(ARABIC.encode("utf-32")).encoding == "utf-32-le"


def test_a_byte_order_mark_over_bytes_it_cannot_decode_is_an_error_with_the_offset() -> None:
    with pytest.raises(UndecodableError, match=r"UTF-16-LE byte-order mark .* offset 2"):
        decode(codecs.BOM_UTF16_LE + b"\x00\xd8\x41")  # a lone high surrogate


def test_utf_8_without_a_mark_is_read_as_utf_8() -> None:
    assert decode(ARABIC.encode()).encoding == "utf-8"
    assert decode(b"plain ascii").how == "utf-8"


def test_nul_bytes_without_a_mark_are_binary_data_with_the_offset_named() -> None:
    with pytest.raises(BinaryDataError, match="NUL byte at offset 3"):
        decode(b"PK\x03\x00\x14rest")


def test_windows_1256_arabic_is_detected() -> None:
    decoded = decode(ARABIC.encode("cp1256"))
    assert (decoded.text, decoded.encoding, decoded.how) == (ARABIC, "cp1256", "detected")


def test_latin_1_french_is_detected_as_a_western_single_byte_encoding() -> None:
    decoded = decode(FRENCH.encode("latin-1"))
    assert decoded.text == FRENCH
    assert decoded.encoding in {"cp1252", "iso8859-1", "iso8859-15"}


def test_a_declared_charset_is_used_when_the_bytes_decode_in_it() -> None:
    decoded = decode(FRENCH.encode("latin-1"), declared="ISO-8859-1")
    assert (decoded.encoding, decoded.how) == ("iso8859-1", "declared")


def test_a_wrong_declaration_falls_through_to_detection() -> None:
    # cp1256 bytes that are not valid in the declared Shift JIS.
    decoded = decode(ARABIC.encode("cp1256"), declared="shift_jis")
    assert decoded.text == ARABIC


def test_an_unknown_declared_charset_is_ignored() -> None:
    assert decode(ARABIC.encode(), declared="x-no-such-charset").encoding == "utf-8"


def test_bytes_no_encoding_reads_fail_with_the_first_bad_utf_8_byte() -> None:
    noise = bytes(range(1, 256)) * 20
    with pytest.raises(UndecodableError, match=r"byte 0x80 at offset 127"):
        decode(noise)


def test_canonical_encoding_spells_codecs_as_python_does() -> None:
    assert canonical_encoding("Windows-1256") == "cp1256"
    assert canonical_encoding('"latin-1"') == "iso8859-1"
    assert canonical_encoding("nonsense") is None
    assert canonical_encoding(None) is None


def test_western_text_scored_alike_in_several_code_pages_is_read_as_windows_1252() -> None:
    spanish = (
        "Un ataque con drones contra la base aérea dejó dos heridos, según informó el ejército. "
        "Las autoridades señalaron que la investigación continúa y que no hubo daños."
    )
    for text in (spanish, "café au lait", "Rockets ÿ hit"):
        decoded = decode(text.encode("latin-1"))
        assert (decoded.text, decoded.encoding) == (text, "cp1252")


@pytest.mark.parametrize(
    ("mark", "codec"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_sniff_names_the_marked_encoding_and_the_marks_length(mark: bytes, codec: str) -> None:
    found = sniff(mark + ARABIC.encode(codec)[:50], complete=False)
    assert (found.encoding, found.how, found.mark) == (codec, "byte-order mark", len(mark))


def test_sniff_does_not_hold_a_character_cut_at_the_samples_end_against_utf_8() -> None:
    cut = ARABIC.encode()[:8]  # ends inside a two-byte letter
    assert sniff(cut, complete=False).encoding == "utf-8"
    assert sniff(cut, complete=True).encoding != "utf-8"


def test_sniff_detects_a_code_page_and_fails_binary_data() -> None:
    assert sniff(ARABIC.encode("cp1256"), complete=True).encoding == "cp1256"
    with pytest.raises(BinaryDataError, match="NUL byte at offset 2"):
        sniff(b"PK\x00\x03", complete=False)
