"""The review page without a browser: its data, its offsets, its embedding, its offline promise.

The page in a real browser is tested in tests/browser/ (`pytest -m browser`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from sitrep.cli.commands import main
from sitrep.report.data import Utf16Offsets, page_data
from sitrep.report.page import embed_json, render_page

ROOT = Path(__file__).resolve().parent.parent


def _evidence(text: str, quote: str) -> dict[str, Any]:
    start = text.index(quote)
    return {"quote": quote, "start": start, "end": start + len(quote), "match": "exact"}


def _incident(record_id: str, article_id: str, evidence: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": record_id,
        "summary": "a drone attack",
        "salience": "main",
        "status": "occurred",
        "event_type": "Explosions/Remote violence",
        "sub_event_type": "Air/drone strike",
        "when": {"start": "2024-07-16", "end": "2024-07-16", "precision": "day"},
        "where": {"name": "Ain al-Assad", "country": "IQ"},
        "casualties": [],
        "evidence": evidence,
        "provenance": {"article_id": article_id},
    }


def _write_run(directory: Path, articles: list[dict[str, Any]], incidents: list[Any]) -> Path:
    directory.mkdir()
    lines = {
        "articles.jsonl": articles,
        "incidents.jsonl": incidents,
        "statistics.jsonl": [],
        "failures.jsonl": [
            {
                "article_id": "f1",
                "location": "a.txt",
                "error_kind": "ArticleError",
                "reason": "empty",
            }
        ],
    }
    for name, objects in lines.items():
        text = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)
        (directory / name).write_text(text, "utf-8")
    return directory


def _utf16(text: str, index: int) -> int:
    """What the browser counts: the UTF-16 code units before `index`."""
    return len(text[:index].encode("utf-16-le")) // 2


def test_utf16_offsets_count_each_astral_character_as_two_units() -> None:
    text = "a😀b𝄞c é"
    to16 = Utf16Offsets(text)
    assert [to16(i) for i in range(len(text) + 1)] == [
        _utf16(text, i) for i in range(len(text) + 1)
    ]
    assert to16(2) == 3  # after "a😀"
    assert Utf16Offsets("plain text")(5) == 5


def test_spans_of_an_emoji_article_select_the_quote_in_the_browsers_units(tmp_path: Path) -> None:
    text = "Residents 🙏🏽 said 🚀 rockets hit the base 😀 at dawn. Two drones were downed."
    quotes = ["rockets hit the base 😀 at dawn", "Two drones were downed"]
    run = _write_run(
        tmp_path / "run",
        [{"id": "A", "text": text, "published": "2024-07-16"}],
        [_incident("i1", "A", [_evidence(text, q) for q in quotes])],
    )
    data = page_data(run)
    spans = data["records"][0]["spans"]
    units = text.encode("utf-16-le")
    selected = [units[2 * s["start"] : 2 * s["end"]].decode("utf-16-le") for s in spans]
    assert selected == quotes
    assert spans[0]["start"] != text.index(quotes[0])  # the offsets were converted
    assert data["unplaced"] == []


def test_evidence_that_cannot_be_placed_is_listed_with_its_reason(tmp_path: Path) -> None:
    text = "Two drones were downed over the base."
    good = _evidence(text, "Two drones")
    outside = {"quote": "far away", "start": 30, "end": 90, "match": "exact"}
    wrong = {"quote": "three drones", "start": 0, "end": 12, "match": "exact"}
    backwards = {"quote": "x", "start": 9, "end": 3, "match": "exact"}
    run = _write_run(
        tmp_path / "run",
        [{"id": "A", "text": text}],
        [
            _incident("i1", "A", [good, outside, wrong, backwards]),
            _incident("i2", "B", [good]),  # an article articles.jsonl does not hold
        ],
    )
    data = page_data(run)
    unplaced = {(u["record"], u["field"]): u["reason"] for u in data["unplaced"]}
    assert set(unplaced) == {
        ("i1", "evidence[1]"),
        ("i1", "evidence[2]"),
        ("i1", "evidence[3]"),
        ("i2", "evidence[0]"),
    }
    assert "outside the text" in unplaced["i1", "evidence[1]"]
    assert "quote is not the text" in unplaced["i1", "evidence[2]"]
    assert "outside the text" in unplaced["i1", "evidence[3]"]
    assert "did not record the article's text" in unplaced["i2", "evidence[0]"]
    assert [s["field"] for s in data["records"][0]["spans"]] == ["evidence[0]"]
    assert [a["id"] for a in data["articles"]] == ["A", "B"]  # the record is still shown


def test_casualty_evidence_is_a_span_of_its_record(tmp_path: Path) -> None:
    text = "A strike killed three people."
    incident = _incident("i1", "A", [_evidence(text, "A strike")])
    incident["casualties"] = [{"outcome": "killed", "evidence": _evidence(text, "three people")}]
    run = _write_run(tmp_path / "run", [{"id": "A", "text": text}], [incident])
    spans = page_data(run)["records"][0]["spans"]
    assert [s["field"] for s in spans] == ["evidence[0]", "casualties[0].evidence"]


def test_embedded_data_round_trips_and_no_article_text_can_end_the_script(tmp_path: Path) -> None:
    text = "He wrote </script><script>alert(1)</script> and <!-- a comment --> in 🚀 copy."
    run = _write_run(
        tmp_path / "run",
        [{"id": "A", "text": text}],
        [_incident("i1", "A", [_evidence(text, "</script><script>alert(1)</script>")])],
    )
    data = page_data(run)
    html = render_page(data)
    soup = BeautifulSoup(html, "html.parser")
    element = soup.find("script", id="report-data")
    assert element is not None
    assert json.loads(element.get_text()) == data
    assert "</script><script>alert" not in html
    assert len(soup.find_all("script")) == 2  # the data and the page's own script, no more
    assert json.loads(embed_json({"a": "</b>"})) == {"a": "</b>"}


def test_the_page_loads_nothing_from_the_network(tmp_path: Path) -> None:
    text = "See https://example.com/story and http://example.org for more."
    run = _write_run(
        tmp_path / "run",
        [{"id": "A", "text": text, "url": "https://example.com/story"}],
        [_incident("i1", "A", [_evidence(text, "See")])],
    )
    soup = BeautifulSoup(render_page(page_data(run)), "html.parser")
    fetching = soup.find_all(["script", "link", "img", "iframe", "source", "video", "audio"])
    assert all(not tag.get("src") and not tag.get("href") for tag in fetching)
    assert soup.find("link") is None
    assert soup.find("style") is not None  # the styles are inline
    for style in soup.find_all("style"):
        assert "@import" not in style.get_text()
        assert "url(" not in style.get_text()


def test_events_are_optional_and_read_as_plain_json_with_extra_keys(tmp_path: Path) -> None:
    text = "Two drones were downed."
    run = _write_run(
        tmp_path / "run",
        [{"id": "A", "text": text}],
        [_incident("i1", "A", [_evidence(text, "Two drones")])],
    )
    assert page_data(run)["events"] is None
    event = {
        "id": "evt_0123456789abcdef",
        "event_type": "Explosions/Remote violence",
        "when": {"start": "2024-07-16", "end": "2024-07-16", "precision": "day"},
        "where": {"name": "Ain al-Assad", "country": "IQ"},
        "sources": 1,
        "members": [{"incident_id": "i1", "article_id": "A", "salience": "main"}],
        "a_key_added_later": [1, 2],
    }
    (run / "events.jsonl").write_text(json.dumps(event) + "\n", "utf-8")
    assert page_data(run)["events"] == [event]


def test_report_command_writes_the_page_of_the_example_archives_run(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    replay = ["--replay", str(ROOT / "cassettes" / "archive")]
    ran = runner.invoke(
        main, ["run", str(ROOT / "examples" / "archive"), "--out", str(out), *replay]
    )
    assert ran.exit_code == 0, ran.output
    page = tmp_path / "review.html"
    made = runner.invoke(main, ["report", str(out), "-o", str(page)])
    assert made.exit_code == 0, made.output
    soup = BeautifulSoup(page.read_text("utf-8"), "html.parser")
    element = soup.find("script", id="report-data")
    assert element is not None
    data = json.loads(element.get_text())
    incidents = (out / "incidents.jsonl").read_text("utf-8").splitlines()
    assert sum(r["kind"] == "incident" for r in data["records"]) == len(incidents)
    assert data["unplaced"] == []  # every record of a run has its evidence located
    assert data["events"] is None


def test_report_of_a_directory_without_outputs_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "incidents.jsonl is missing" in result.output


@pytest.mark.parametrize("line", ["not json", "[1, 2]"])
def test_report_of_an_unreadable_output_line_names_file_and_line(tmp_path: Path, line: str) -> None:
    run = _write_run(tmp_path / "run", [], [])
    (run / "incidents.jsonl").write_text(line + "\n", "utf-8")
    result = CliRunner().invoke(main, ["report", str(run)])
    assert result.exit_code == 2
    assert "incidents.jsonl line 1" in result.output


def test_records_sharing_an_id_get_keys_of_their_own(tmp_path: Path) -> None:
    text = "Two drones were downed."
    same = _incident("i1", "A", [_evidence(text, "Two drones")])
    run = _write_run(tmp_path / "run", [{"id": "A", "text": text}], [same, same])
    data = page_data(run)
    keys = [r["key"] for r in data["records"]]
    assert len(set(keys)) == 2
    assert data["articles"][0]["records"] == keys
