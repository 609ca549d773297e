"""Merging incidents across articles into events (sitrep.merge), on hand-made incident sets."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from sitrep.errors import MergeError
from sitrep.merge.mentions import place_key, weapon_kind
from sitrep.merge.rules import Tolerances
from sitrep.merge.store import EVENTS, explain, merge_run, read_events
from sitrep.model.events import Event


def incident(
    incident_id: str,
    article: str,
    *,
    place: str = "Ain al-Assad air base",
    start: str = "2024-07-16",
    end: str | None = None,
    precision: str = "day",
    phrase: str = "on Tuesday",
    salience: str = "main",
    event_type: str = "Explosions/Remote violence",
    sub_event_type: str = "Air/drone strike",
    status: str = "occurred",
    weapon: str | None = "drone",
    launched: int | None = None,
    killed: list[int] | None = None,
    time_of_day: str | None = None,
    country: str = "IQ",
) -> dict[str, Any]:
    evidence = {"quote": "q", "start": 0, "end": 1, "match": "exact"}
    return {
        "id": incident_id,
        "summary": f"incident {incident_id}",
        "salience": salience,
        "status": status,
        "event_type": event_type,
        "sub_event_type": sub_event_type,
        "when": {
            "phrase": phrase,
            "start": start,
            "end": end or start,
            "precision": precision,
            "anchor": start,
            "time_of_day": time_of_day,
            "source": "code",
        },
        "where": {
            "name": place,
            "site_kind": "base",
            "admin1": None,
            "country": country,
            "precision": "site",
        },
        "perpetrator": {"name": None, "attribution": "unknown"},
        "target": None,
        "munitions": {
            "weapon": weapon,
            "launched": launched,
            "intercepted": None,
            "impacted": None,
        },
        "casualties": [
            {
                "outcome": "killed",
                "party": None,
                "best": k,
                "low": None,
                "high": None,
                "qualifier": "exact",
                "evidence": evidence,
            }
            for k in killed or []
        ],
        "damage": {"level": "not reported", "description": None},
        "reported_by": [],
        "evidence": [evidence],
        "provenance": {
            "article_id": article,
            "model": "m",
            "prompt_version": "p",
            "schema_version": "s",
            "request_ids": [],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "reasks": 0,
            "extracted_at": "2024-07-17T00:00:00Z",
            "sitrep_version": "0.1.0",
        },
    }


def write(directory: Path, incidents: list[dict[str, Any]], mode: str = "w") -> Path:
    directory.mkdir(exist_ok=True)
    with (directory / "incidents.jsonl").open(mode, encoding="utf-8") as stream:
        for record in incidents:
            stream.write(json.dumps(record) + "\n")
    return directory


def merged(directory: Path, incidents: list[dict[str, Any]], window: int = 1) -> list[Event]:
    merge_run(write(directory, incidents), Tolerances(window=window))
    return list(read_events(directory / EVENTS))


def test_transliterations_of_one_base_fold_to_one_place_key() -> None:
    keys = {place_key(n) for n in ("Ain al-Assad", "Ain al-Asad", "Ayn al-Asad air base")}
    assert keys == {"ain al asad"}


def test_weapon_words_fold_to_their_kind() -> None:
    assert weapon_kind("booby-trapped drones") == weapon_kind("UAV") == "drone"
    assert weapon_kind("Katyusha rockets") == "rocket"


def test_one_event_in_three_articles_under_three_spellings_is_one_event_of_three_sources(
    tmp_path: Path,
) -> None:
    events = merged(
        tmp_path,
        [
            incident("i1", "a1", place="Ain al-Assad", phrase="on Tuesday"),
            incident("i2", "a2", place="Ain al-Asad", phrase="July 16"),
            incident("i3", "a3", place="Ayn al-Asad air base", start="2024-07-17", phrase="late"),
        ],
    )
    assert len(events) == 1
    assert events[0].sources == 3
    assert sorted(m.incident_id for m in events[0].members) == ["i1", "i2", "i3"]
    joined = [m for m in events[0].members if not m.founding]
    assert all(any(c.startswith("place ") for c in m.joined_by) for m in joined)
    assert any("date within 1 day" in m.joined_by for m in joined)


def test_a_morning_rocket_attack_and_a_night_drone_attack_at_one_base_are_two_events(
    tmp_path: Path,
) -> None:
    events = merged(
        tmp_path,
        [
            incident(
                "rocket",
                "a1",
                sub_event_type="Shelling/artillery/missile attack",
                weapon="Katyusha rockets",
                time_of_day="morning",
            ),
            incident("drone", "a1", time_of_day="night"),
            incident("drone2", "a2", time_of_day="night", place="Ain al-Asad"),
        ],
    )
    assert sorted(len(e.members) for e in events) == [1, 2]


def test_the_same_weapon_in_the_morning_and_at_night_is_two_events(tmp_path: Path) -> None:
    events = merged(
        tmp_path,
        [incident("m", "a1", time_of_day="morning"), incident("n", "a2", time_of_day="night")],
    )
    assert len(events) == 2


def test_a_background_mention_joins_the_event_without_overriding_its_figures(
    tmp_path: Path,
) -> None:
    events = merged(
        tmp_path,
        [
            incident("main", "a1", killed=[2], launched=3),
            incident(
                "recalled",
                "a2",
                salience="background",
                start="2024-07-01",
                end="2024-07-31",
                precision="month",
                killed=[10],
                launched=4,
                place="Ain al-Asad",
            ),
        ],
    )
    assert len(events) == 1
    event = events[0]
    assert event.sources == 2
    assert event.fatalities is not None
    assert (event.fatalities.low, event.fatalities.best, event.fatalities.high) == (2, 2, 2)
    assert event.munitions.launched is not None
    assert event.munitions.launched.high == 3
    founding = next(m for m in event.members if m.founding)
    assert founding.incident_id == "main"


def test_a_background_mention_never_links_two_events(tmp_path: Path) -> None:
    month = {"start": "2024-07-01", "end": "2024-07-31", "precision": "month"}
    events = merged(
        tmp_path,
        [
            incident("early", "a1", start="2024-07-03"),
            incident("late", "a2", start="2024-07-25"),
            incident("recalled", "a3", salience="background", **month),  # type: ignore[arg-type]
        ],
    )
    assert sorted(len(e.members) for e in events) == [1, 2]


def test_a_corrected_toll_is_kept_as_low_best_high_with_the_lowest_as_best(
    tmp_path: Path,
) -> None:
    events = merged(
        tmp_path,
        [incident("first", "a1", killed=[3]), incident("corrected", "a2", killed=[5])],
    )
    assert len(events) == 1
    assert events[0].fatalities is not None
    assert events[0].fatalities.model_dump() == {"low": 3, "best": 3, "high": 5}


@pytest.mark.parametrize(("second", "expected"), [("2024-07-18", 1), ("2024-07-19", 2)])
def test_dates_merge_within_the_window_and_split_past_it(
    tmp_path: Path, second: str, expected: int
) -> None:
    # With a window of 1 day either side, dates two days apart still touch; three do not.
    events = merged(tmp_path, [incident("x", "a1"), incident("y", "a2", start=second)], window=1)
    assert len(events) == expected


def test_different_countries_or_event_types_never_merge(tmp_path: Path) -> None:
    events = merged(
        tmp_path,
        [
            incident("iq", "a1"),
            incident("sy", "a2", country="SY"),
            incident("sd", "a3", event_type="Strategic developments",
                     sub_event_type="Disrupted weapons use", status="intercepted"),
        ],
    )  # fmt: skip
    assert len(events) == 3


def test_munition_counts_of_different_orders_are_different_events(tmp_path: Path) -> None:
    events = merged(tmp_path, [incident("x", "a1", launched=2), incident("y", "a2", launched=40)])
    assert len(events) == 2


def _corpus() -> list[dict[str, Any]]:
    places = ["Ain al-Assad", "Ain al-Asad", "Ayn al-Asad air base", "Erbil airport", "Erbil"]
    return [
        incident(
            f"i{n:03}",
            f"a{n % 7}",
            place=places[n % len(places)],
            start=f"2024-07-{1 + n % 20:02}",
            salience="background" if n % 9 == 0 else "main",
            killed=[n % 4],
        )
        for n in range(60)
    ]


def test_shuffled_input_gives_the_same_event_ids_and_bytes(tmp_path: Path) -> None:
    corpus = _corpus()
    merged(tmp_path / "one", corpus)
    shuffled = corpus[:]
    random.Random(4).shuffle(shuffled)
    merged(tmp_path / "two", shuffled)
    first = (tmp_path / "one" / EVENTS).read_bytes()
    assert first == (tmp_path / "two" / EVENTS).read_bytes()
    assert len(first.splitlines()) < 60


def test_merging_in_two_steps_equals_merging_at_once(tmp_path: Path) -> None:
    corpus = _corpus()
    merged(tmp_path / "once", corpus)
    write(tmp_path / "steps", corpus[:25])
    merge_run(tmp_path / "steps")
    write(tmp_path / "steps", corpus[25:], mode="a")
    summary = merge_run(tmp_path / "steps")
    assert summary.new == 35
    assert (tmp_path / "once" / EVENTS).read_bytes() == (tmp_path / "steps" / EVENTS).read_bytes()


def test_a_second_merge_reads_no_incident_it_merged_before(tmp_path: Path) -> None:
    merged(tmp_path, [incident("x", "a1")])
    # The old line is spoilt: were it read again, the merge would fail.
    path = tmp_path / "incidents.jsonl"
    size = path.stat().st_size
    path.write_bytes(b"{" * (size - 1) + b"\n")
    write(tmp_path, [incident("y", "a2", place="Ain al-Asad")], mode="a")
    summary = merge_run(tmp_path)
    assert (summary.new, summary.events, summary.incidents) == (1, 1, 2)


def test_a_changed_window_is_refused_instead_of_mixing_tolerances(tmp_path: Path) -> None:
    merged(tmp_path, [incident("x", "a1")])
    with pytest.raises(MergeError, match="--window 1"):
        merge_run(tmp_path, Tolerances(window=3))


def test_explain_names_the_criteria_of_each_member(tmp_path: Path) -> None:
    events = merged(tmp_path, [incident("x", "a1"), incident("y", "a2", place="Ain al-Asad")])
    lines = explain(tmp_path, events[0].id)
    assert "founding" in lines[1]
    assert "place 'Ain al-Asad' ~ 'Ain al-Assad air base'" in lines[2]
    with pytest.raises(MergeError, match="no event 'evt_0'"):
        explain(tmp_path, "evt_0")


def test_an_incident_line_that_is_no_record_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "incidents.jsonl").write_text('{"id": "x"}\n', "utf-8")
    with pytest.raises(MergeError, match="not an incident record"):
        merge_run(tmp_path)
