"""Joining a long article's chunks: what two chunks both read becomes one record, nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sitrep.extract.assemble import assemble
from sitrep.extract.combine import combine_chunks
from sitrep.model.article import Article
from sitrep.model.drafts import DraftExtraction
from sitrep.model.records import Extraction, Provenance
from sitrep.model.usage import TokenUsage
from sitrep.text.chunks import Chunk

FIRST = (
    "Militants fired three rockets at the airport in Erbil on Monday.\n\n"
    "The airport stayed open, officials said.\n\n"
)
SHARED = (
    "A drone struck the base at Ain al-Asad on Monday night, wounding two soldiers.\n\n"
    "Two drones hit the oil field at Khor Mor and the dam at Mosul on Tuesday.\n\n"
    "The field at Khor Mor lost power; the dam at Mosul was not damaged.\n\n"
    "The army said it carried out 137 operations and arrested 74 suspects.\n\n"
)
LAST = (
    "The drone that struck Ain al-Asad was launched from the desert, the army said.\n\n"
    "A roadside bomb hit a patrol near Tikrit on Wednesday.\n"
)
ARTICLE = Article.from_text(FIRST + SHARED + LAST, published=date(2024, 7, 17))
ONE = Chunk(1, 2, 0, len(FIRST + SHARED))
TWO = Chunk(2, 2, len(FIRST), len(ARTICLE.text))


def provenance(request_id: str, *, reasks: int = 0, prompt: int = 100) -> Provenance:
    return Provenance(
        article_id=ARTICLE.id,
        model="test-model",
        prompt_version="p1",
        schema_version="s1",
        request_ids=[request_id],
        usage=TokenUsage(prompt_tokens=prompt, completion_tokens=10, total_tokens=prompt + 10),
        reasks=reasks,
        chunks=2,
        extracted_at=datetime(2024, 1, 1, tzinfo=UTC),
        sitrep_version="0.1.0",
    )


def incident(
    summary: str,
    evidence: list[str],
    *,
    sub_event_type: str = "Air/drone strike",
    place: str | None = None,
    casualties: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "summary": summary,
        "salience": "main",
        "status": "occurred",
        "event_type": "Explosions/Remote violence",
        "sub_event_type": sub_event_type,
        "when": {"phrase": None, "start": None, "end": None, "time_of_day": None},
        "where": {
            "name": place,
            "site_kind": None,
            "admin1": None,
            "country_code": None,
            "precision": None,
        },
        "perpetrator": {"name": None, "attribution": "unknown"},
        "target": None,
        "munitions": {"weapon": None, "launched": None, "intercepted": None, "impacted": None},
        "casualties": casualties or [],
        "damage": {"level": "not reported", "description": None},
        "reported_by": [{"name": "the army", "kind": "military"}],
        "evidence": evidence,
    }


def statistic(value: int, metric: str, evidence: list[str]) -> dict[str, Any]:
    return {
        "metric": metric,
        "kind": "flow",
        "value": value,
        "qualifier": "exact",
        "unit": metric,
        "subject": "the army",
        "object": None,
        "when": {"phrase": None, "start": None, "end": None, "time_of_day": None},
        "where": {
            "name": None,
            "site_kind": None,
            "admin1": None,
            "country_code": None,
            "precision": None,
        },
        "reported_by": [],
        "evidence": evidence,
    }


def wounded(quote: str) -> dict[str, Any]:
    return {
        "outcome": "injured",
        "party": "soldiers",
        "best": 2,
        "low": None,
        "high": None,
        "qualifier": "exact",
        "quote": quote,
    }


def read(
    chunk: Chunk,
    incidents: list[dict[str, Any]],
    statistics: list[dict[str, Any]] | None = None,
    **made: Any,
) -> tuple[Chunk, Extraction]:
    """What one chunk's answer becomes: checked against that chunk, as the conversation does."""
    draft = DraftExtraction.model_validate({"incidents": incidents, "statistics": statistics or []})
    return chunk, assemble(draft, ARTICLE, provenance(f"req-{chunk.number}", **made), chunk)


AIN_AL_ASAD = "A drone struck the base at Ain al-Asad on Monday night"
ERBIL = "Militants fired three rockets at the airport in Erbil on Monday."
TIKRIT = "A roadside bomb hit a patrol near Tikrit on Wednesday."
LAUNCHED = "The drone that struck Ain al-Asad was launched from the desert"


def test_an_incident_read_in_both_chunks_overlap_becomes_one_with_the_evidence_of_both() -> None:
    combined = combine_chunks(
        ARTICLE.id,
        [
            read(ONE, [incident("Drone strike on Ain al-Asad.", [AIN_AL_ASAD])]),
            read(TWO, [incident("Drone strike on Ain al-Asad.", [AIN_AL_ASAD, LAUNCHED])]),
        ],
    )
    (joined,) = combined.incidents
    assert [e.quote for e in joined.evidence] == [AIN_AL_ASAD, LAUNCHED]  # the shared one once
    for evidence in joined.evidence:
        assert ARTICLE.text[evidence.start : evidence.end] == evidence.quote
    assert joined.evidence[0].start == len(FIRST)  # offsets of the article, not of a chunk


def test_incidents_read_in_one_chunk_only_are_kept_as_they_are() -> None:
    first = read(
        ONE,
        [
            incident(
                "Rockets at Erbil airport.",
                [ERBIL],
                sub_event_type="Shelling/artillery/missile attack",
            )
        ],
    )
    last = read(
        TWO,
        [incident("Bomb hits a patrol.", [TIKRIT], sub_event_type="Remote explosive/landmine/IED")],
    )
    combined = combine_chunks(ARTICLE.id, [first, last])
    assert [i.summary for i in combined.incidents] == [
        "Rockets at Erbil airport.",
        "Bomb hits a patrol.",
    ]
    assert combined.incidents[0].id == first[1].incidents[0].id
    assert combined.incidents[0].evidence == first[1].incidents[0].evidence
    assert combined.incidents[1].id == last[1].incidents[0].id


def test_two_incidents_told_in_one_sentence_of_the_overlap_stay_two() -> None:
    both = "Two drones hit the oil field at Khor Mor and the dam at Mosul on Tuesday."
    field = "The field at Khor Mor lost power"
    dam = "the dam at Mosul was not damaged"
    readings = [
        incident("Drone hits Khor Mor.", [both, field], place="Khor Mor"),
        incident("Drone hits Mosul dam.", [both, dam], place="Mosul dam"),
    ]
    combined = combine_chunks(
        ARTICLE.id, [read(ONE, readings), read(TWO, list(reversed(readings)))]
    )
    assert sorted(i.where.name or "" for i in combined.incidents) == ["Khor Mor", "Mosul dam"]
    for joined in combined.incidents:
        assert len(joined.evidence) == 2  # each joined its own reading, not the other's


def test_readings_of_one_passage_as_different_kinds_of_event_stay_apart() -> None:
    combined = combine_chunks(
        ARTICLE.id,
        [
            read(ONE, [incident("Drone strike.", [AIN_AL_ASAD])]),
            read(
                TWO,
                [
                    incident(
                        "Shelling.",
                        [AIN_AL_ASAD],
                        sub_event_type="Shelling/artillery/missile attack",
                    )
                ],
            ),
        ],
    )
    assert len(combined.incidents) == 2


def test_a_statistic_read_twice_is_one_and_two_figures_of_one_sentence_stay_two() -> None:
    operations = "The army said it carried out 137 operations and arrested 74 suspects."
    figures = [statistic(137, "operations", [operations]), statistic(74, "arrests", [operations])]
    combined = combine_chunks(ARTICLE.id, [read(ONE, [], figures), read(TWO, [], figures[:1])])
    assert sorted(s.value for s in combined.statistics) == [74, 137]
    (joined,) = [s for s in combined.statistics if s.value == 137]
    assert [e.quote for e in joined.evidence] == [operations]


def test_casualty_figures_of_both_readings_are_kept_identical_ones_once() -> None:
    quote = "wounding two soldiers"
    one = incident("Drone strike.", [AIN_AL_ASAD], casualties=[wounded(quote)])
    about = {**wounded(quote), "qualifier": "about"}  # another reading of the figure
    two = incident("Drone strike.", [AIN_AL_ASAD], casualties=[wounded(quote), about])
    (joined,) = combine_chunks(ARTICLE.id, [read(ONE, [one]), read(TWO, [two])]).incidents
    assert [c.qualifier.value for c in joined.casualties] == ["exact", "about"]
    for figure in joined.casualties:
        assert ARTICLE.text[figure.evidence.start : figure.evidence.end] == quote


def test_joined_ids_are_the_same_every_time_and_unique_in_the_article() -> None:
    def combined() -> Extraction:
        return combine_chunks(
            ARTICLE.id,
            [
                read(
                    ONE,
                    [
                        incident("Drone strike.", [AIN_AL_ASAD]),
                        incident(
                            "Rockets.", [ERBIL], sub_event_type="Shelling/artillery/missile attack"
                        ),
                    ],
                ),
                read(TWO, [incident("Drone strike.", [AIN_AL_ASAD, LAUNCHED])]),
            ],
        )

    first, again = combined(), combined()
    ids = [i.id for i in first.incidents]
    assert ids == [i.id for i in again.incidents]
    assert len(set(ids)) == len(ids) == 2
    members = {
        i.id
        for _, e in [read(ONE, [incident("Drone strike.", [AIN_AL_ASAD])])]
        for i in e.incidents
    }
    assert not members & set(ids)  # a joined record is not mistaken for one reading of it


def test_a_record_repeated_word_for_word_in_one_answer_is_kept_once() -> None:
    drone = incident("Drone strike.", [AIN_AL_ASAD])
    combined = combine_chunks(ARTICLE.id, [read(ONE, [drone, drone]), read(TWO, [])])
    assert len(combined.incidents) == 1


def test_every_record_carries_the_articles_provenance_summed_over_its_chunks() -> None:
    combined = combine_chunks(
        ARTICLE.id,
        [
            read(ONE, [incident("Drone strike.", [AIN_AL_ASAD])], reasks=1, prompt=300),
            read(TWO, [], [statistic(137, "operations", ["it carried out 137 operations"])]),
        ],
    )
    total = combined.provenance
    assert total.chunks == 2
    assert total.request_ids == ["req-1", "req-2"]
    assert total.usage == TokenUsage(prompt_tokens=400, completion_tokens=20, total_tokens=420)
    assert total.reasks == 1
    assert [i.provenance for i in combined.incidents] == [total]
    assert [s.provenance for s in combined.statistics] == [total]
