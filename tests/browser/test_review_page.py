"""The review page of the example archive's replayed run, in a real browser.

apt-get install -y chromium && pip install '.[browser]' && pytest -m browser
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sitrep.model.vocab import IncidentStatus

from .conftest import OpenPage, Review, sitrep

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _records_by_article(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {
        a["id"]: [] for a in _lines(run_dir / "articles.jsonl")
    }
    for name in ("incidents.jsonl", "statistics.jsonl"):
        for record in _lines(run_dir / name):
            grouped[record["provenance"]["article_id"]].append({**record, "file": name})
    return grouped


def _decisions(page: Any) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            ".record", "nodes => nodes.map(n => [n.dataset.id, n.dataset.decision])"
        )
    )


def test_page_opens_from_disk_with_no_console_errors_and_no_requests(
    opened: OpenPage, review: Review
) -> None:
    page = opened.page
    assert opened.errors == []
    assert opened.requests == [review.url]  # the file itself, and nothing else
    incidents = len(_lines(review.run_dir / "incidents.jsonl"))
    assert page.locator(".record[data-id]").count() == incidents + len(
        _lines(review.run_dir / "statistics.jsonl")
    )
    dated = [i for i in _lines(review.run_dir / "incidents.jsonl") if i["when"]["start"]]
    assert page.locator("#timeline svg circle").count() == len(dated)  # nothing merged yet
    assert "No events were merged yet" in page.text_content("#events")
    assert page.locator("mark").count() > 0


def test_clicking_a_highlighted_span_selects_the_record_it_supports(opened: OpenPage) -> None:
    page = opened.page
    mark = page.locator("mark").nth(5)
    key = mark.get_attribute("data-record")
    mark.click()
    assert page.get_attribute(".record.selected", "data-key") == key
    assert page.locator("mark.current").count() >= 1
    assert opened.errors == []


def test_keyboard_review_exports_gold_that_sitrep_eval_scores_as_decided(
    opened: OpenPage, review: Review, tmp_path: Path
) -> None:
    page = opened.page
    grouped = _records_by_article(review.run_dir)
    # An article with three incidents: accept the first, reject the second, correct the third.
    article_id, records = next(
        (a, r)
        for a, r in grouped.items()
        if len(r) == 3 and all(x["file"] == "incidents.jsonl" for x in r)
    )
    first, rejected, edited = records
    first_key = page.get_attribute(f'.record[data-id="{first["id"]}"]', "data-key")
    page.click(f'mark[data-record="{first_key}"] >> nth=0')
    page.keyboard.press("a")
    page.keyboard.press("j")
    page.keyboard.press("r")
    page.keyboard.press("j")
    assert page.get_attribute(".record.selected", "data-id") == edited["id"]
    new_status = next(s.value for s in IncidentStatus if s.value != edited["status"])
    page.keyboard.press("e")
    page.select_option("#editor-field", "status")
    page.fill("#editor-value", new_status)
    page.keyboard.press("Enter")
    decided = {first["id"]: "accepted", rejected["id"]: "rejected", edited["id"]: "corrected"}
    assert {k: v for k, v in _decisions(page).items() if k in decided} == decided

    with page.expect_download() as download:
        page.keyboard.press("x")
    gold = tmp_path / "decisions.jsonl"
    download.value.save_as(gold)
    lines = _lines(gold)
    assert [line["article_id"] for line in lines] == [article_id]  # reviewed articles only
    assert [i["status"] for i in lines[0]["incidents"]] == [first["status"], new_status]
    assert lines[0]["statistics"] == []
    assert all("id" not in i and "provenance" not in i for i in lines[0]["incidents"])

    scored = sitrep("eval", str(gold), str(review.run_dir), "--format", "json")
    assert scored.returncode == 0, scored.stderr
    incidents = json.loads(scored.stdout)["incidents"]
    assert (incidents["gold"], incidents["predicted"], incidents["matched"]) == (2, 3, 2)
    assert incidents["recall"] == 1.0
    assert incidents["precision"] == pytest.approx(2 / 3)
    assert incidents["fields"]["status"] == pytest.approx(0.5)  # the corrected one differs
    assert incidents["fields"]["event_type"] == 1.0

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert {k: v for k, v in _decisions(page).items() if k in decided} == decided
    assert opened.errors == []


def test_filters_leave_only_the_records_that_pass(opened: OpenPage, review: Review) -> None:
    page = opened.page
    page.select_option("#filter-salience", "main")
    shown = page.eval_on_selector_all(
        ".record:not(.hidden)", "nodes => nodes.map(n => n.dataset.id)"
    )
    main = [r["id"] for r in _lines(review.run_dir / "incidents.jsonl") if r["salience"] == "main"]
    assert sorted(shown) == sorted(main)
    page.keyboard.press("j")
    assert page.get_attribute(".record.selected", "data-id") in main


def test_screenshot_of_the_page_is_a_png(opened: OpenPage, tmp_path: Path) -> None:
    shot = tmp_path / "review.png"
    opened.page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(PNG)


def test_merged_events_are_listed_with_their_sources_and_drawn(
    browser: Any, review: Review, tmp_path: Path
) -> None:
    run_dir = tmp_path / "merged"
    shutil.copytree(review.run_dir, run_dir, ignore=shutil.ignore_patterns("run.lock"))
    incidents = _lines(run_dir / "incidents.jsonl")[:2]
    event = {
        "id": "evt_0123456789abcdef",
        "event_type": incidents[0]["event_type"],
        "sub_event_type": incidents[0]["sub_event_type"],
        "when": incidents[0]["when"],
        "where": incidents[0]["where"],
        "sources": 2,
        "members": [
            {
                "incident_id": i["id"],
                "article_id": i["provenance"]["article_id"],
                "salience": "main",
            }
            for i in incidents
        ],
        "a_key_added_later": True,
    }
    (run_dir / "events.jsonl").write_text(json.dumps(event) + "\n", "utf-8")
    page_file = tmp_path / "merged.html"
    assert sitrep("report", str(run_dir), "-o", str(page_file)).returncode == 0
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri())
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#events .event").count() == 1
    assert page.locator("#events .event li").count() == 2
    assert page.locator("#timeline svg circle").count() == 1
    assert "merged events" in page.text_content("#timeline-title")
    page.click("#events .event li >> nth=1 >> a")
    assert page.get_attribute(".record.selected", "data-id") == incidents[1]["id"]
    assert errors == []
    context.close()
