"""Each check `assemble` makes on a draft fires with a message naming the field and the value."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from conftest import FAULT_ARTICLE, ROOT
from sitrep.extract.assemble import DraftRejectedError, assemble
from sitrep.model.article import Article
from sitrep.model.drafts import DraftExtraction
from sitrep.model.records import Extraction, Provenance
from sitrep.model.usage import TokenUsage
from sitrep.model.vocab import DatePrecision, DateSource, MatchKind, TimeOfDay
from sitrep.text.dates import DatePhraseError, resolve_date_phrase
from sitrep.text.numbers import supports_count

MORTAR_DRAFT: dict[str, Any] = json.loads(
    (ROOT / "cassettes" / "authored" / "mortar_strike.json").read_text("utf-8")
)
MORTAR = Article.from_file(FAULT_ARTICLE)
PUBLISHED = date(2023, 11, 8)
EXAMPLES = ROOT / "prompts" / "extract" / "examples"
PROVENANCE = Provenance(
    article_id=MORTAR.id,
    model="test-model",
    prompt_version="p1",
    schema_version="s1",
    request_ids=["req-1"],
    usage=TokenUsage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
    reasks=0,
    extracted_at=datetime(2024, 1, 1, tzinfo=UTC),
    sitrep_version="0.1.0",
)
UNSTATED = (
    "{}: {} is not stated in this record's evidence; quote the passage that gives it, "
    "or use null if the article does not say"
)

# Statistics written for these tests, in the style of the seed articles.
STATS = Article.from_text(
    "Militants have launched dozens of attacks on the base since January, the army said.\n\n"
    "The coalition says it has trained 64 Iraqi battalions.\n\n"
    "About 2,500 American soldiers remain in Iraq.",
    published=PUBLISHED,
)


def mortar() -> dict[str, Any]:
    """A fresh copy of the valid mortar-strike draft, to modify."""
    return copy.deepcopy(MORTAR_DRAFT)


def variant(old: str, new: str) -> tuple[dict[str, Any], Article]:
    """The mortar draft and article with `old` replaced by `new` in both."""
    assert old in MORTAR.text
    data = json.loads(json.dumps(MORTAR_DRAFT).replace(old, new))
    return data, Article.from_text(MORTAR.text.replace(old, new), published=PUBLISHED)


def statistic(
    value: float, qualifier: str, quote: str, kind: str = "flow", phrase: str | None = None
) -> dict[str, Any]:
    return {
        "metric": "attacks",
        "kind": kind,
        "value": value,
        "qualifier": qualifier,
        "unit": "attacks",
        "subject": None,
        "object": None,
        "when": {"phrase": phrase, "start": None, "end": None, "time_of_day": None},
        "where": {
            "name": None,
            "site_kind": None,
            "admin1": None,
            "country_code": None,
            "precision": None,
        },
        "reported_by": [],
        "evidence": [quote],
    }


def stats_draft(*statistics: dict[str, Any]) -> dict[str, Any]:
    return {"incidents": [], "statistics": list(statistics)}


def run(data: dict[str, Any], article: Article = MORTAR) -> Extraction:
    return assemble(DraftExtraction.model_validate(data), article, PROVENANCE)


def problems(data: dict[str, Any], article: Article = MORTAR) -> list[str]:
    with pytest.raises(DraftRejectedError) as caught:
        run(data, article)
    return caught.value.problems


# --- a valid draft ------------------------------------------------------------------------------


def test_valid_mortar_draft_is_completed_with_offsets_resolved_date_and_counts() -> None:
    (incident,) = run(mortar()).incidents
    first = "Mortar shells struck an army checkpoint near Tuz Khurmatu"
    assert MORTAR.text.startswith(first)
    assert (incident.evidence[0].start, incident.evidence[0].match) == (0, MatchKind.EXACT)
    assert (incident.munitions.launched, incident.munitions.impacted) == (3, 2)
    assert incident.when.start == incident.when.end == date(2023, 11, 7)
    assert incident.when.precision is DatePrecision.DAY
    assert incident.when.source is DateSource.CODE
    assert incident.when.time_of_day is TimeOfDay.EVENING
    assert incident.when.anchor == PUBLISHED
    assert incident.where.country == "IQ"
    (casualty,) = incident.casualties
    assert casualty.best == 2
    start = MORTAR.text.index("wounding two soldiers")
    assert (casualty.evidence.start, casualty.evidence.end) == (start, start + 21)


# --- quotes -------------------------------------------------------------------------------------


def test_fabricated_quote_is_rejected_naming_its_evidence_index_and_quoting_it() -> None:
    data = mortar()
    data["incidents"][0]["evidence"].append("Insurgents fired five rockets at the base")
    assert problems(data) == [
        "incidents[0].evidence[2]: the quote 'Insurgents fired five rockets at the base' is not "
        "in the article; copy the passage exactly"
    ]


def test_exact_quote_is_an_exact_match_whose_offsets_give_the_quote_back() -> None:
    (incident,) = run(mortar()).incidents
    quote = MORTAR_DRAFT["incidents"][0]["evidence"][1]
    evidence = incident.evidence[1]
    assert evidence.match is MatchKind.EXACT
    assert evidence.quote == quote
    assert MORTAR.text[evidence.start : evidence.end] == quote
    assert evidence.start == MORTAR.text.index("three shells")


def test_quote_differing_in_quote_marks_whitespace_and_case_is_found_normalized() -> None:
    passage = (
        "The officer said \u201cthree shells were fired from an orchard\u201d\n  east of the "
        "town and two of them landed near the checkpoint."
    )
    text = MORTAR.text.replace(
        "The officer said three shells were fired from an orchard east of the town and two of "
        "them landed near the checkpoint.",
        passage,
    )
    article = Article.from_text(text, published=PUBLISHED)
    data = mortar()
    data["incidents"][0]["evidence"][1] = (
        'the officer said "Three shells were fired from an Orchard" east of the town and two '
        "of them landed near the checkpoint."
    )
    (incident,) = run(data, article).incidents
    evidence = incident.evidence[1]
    assert evidence.match is MatchKind.NORMALIZED
    assert evidence.quote == passage
    start = text.index(passage)
    assert (evidence.start, evidence.end) == (start, start + len(passage))


# --- munition counts ----------------------------------------------------------------------------


def test_launched_count_not_stated_in_the_evidence_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["munitions"]["launched"] = 4
    assert problems(data) == [UNSTATED.format("incidents[0].munitions.launched", 4)]


def test_impacted_derived_from_stated_launched_minus_stated_intercepted_is_accepted() -> None:
    data, article = variant(
        "two of them landed near the checkpoint",
        "two of them were shot down and the third landed near the checkpoint",
    )
    data["incidents"][0]["munitions"].update(launched=3, intercepted=2, impacted=1)
    quotes = data["incidents"][0]["evidence"]
    assert not any(supports_count(1, q) for q in quotes)  # "the third" is no count
    (incident,) = run(data, article).incidents
    munitions = incident.munitions
    assert (munitions.launched, munitions.intercepted, munitions.impacted) == (3, 2, 1)


def test_derived_count_is_rejected_when_its_counterpart_is_not_stated() -> None:
    data, article = variant(
        "three shells were fired from an orchard east of the town and two of them landed",
        "four shells were fired from an orchard east of the town and the last of them landed",
    )
    # 1 == 4 - 3, but the 3 intercepted is stated nowhere, so 1 impacted is not derivable.
    data["incidents"][0]["munitions"].update(launched=4, intercepted=3, impacted=1)
    assert problems(data, article) == [
        UNSTATED.format("incidents[0].munitions.intercepted", 3),
        UNSTATED.format("incidents[0].munitions.impacted", 1),
    ]


def test_derived_count_is_rejected_when_launched_is_not_stated() -> None:
    data, article = variant(
        "three shells were fired from an orchard east of the town and two of them landed",
        "shells were fired from an orchard east of the town; two were shot down and the third "
        "landed",
    )
    data["incidents"][0]["munitions"].update(launched=3, intercepted=2, impacted=1)
    assert problems(data, article) == [
        UNSTATED.format("incidents[0].munitions.launched", 3),
        UNSTATED.format("incidents[0].munitions.impacted", 1),
    ]


def test_intercepted_plus_impacted_above_launched_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["munitions"].update(launched=3, intercepted=2, impacted=2)
    assert problems(data) == [
        "incidents[0].munitions: intercepted (2) plus impacted (2) exceed launched (3)"
    ]


def test_status_intercepted_with_munitions_that_impacted_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["status"] = "intercepted"
    assert problems(data) == [
        "incidents[0].status: 'intercepted' means nothing hit, but impacted is 2; use 'occurred'"
    ]


# --- casualties ---------------------------------------------------------------------------------


def test_casualty_figure_stated_nowhere_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["casualties"][0]["best"] = 5
    assert problems(data) == [UNSTATED.format("incidents[0].casualties[0].best", 5)]


def test_casualty_quote_not_in_the_article_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["casualties"][0]["quote"] = "wounding five soldiers"
    assert problems(data) == [
        "incidents[0].casualties[0].quote: the quote 'wounding five soldiers' is not in the "
        "article; copy the passage exactly"
    ]


def test_casualty_figure_absent_from_its_own_quote_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["casualties"][0]["best"] = 3  # the quote says "wounding two soldiers"
    assert problems(data) == [UNSTATED.format("incidents[0].casualties[0].best", 3)]


def test_casualty_without_best_low_or_high_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["casualties"][0]["best"] = None
    assert problems(data) == ["incidents[0].casualties[0]: give best, or low and high"]


def test_casualty_with_low_above_best_is_rejected_naming_the_values() -> None:
    data, article = variant("wounding two soldiers", "wounding two or three soldiers")
    data["incidents"][0]["casualties"][0].update(best=2, low=3)
    assert problems(data, article) == [
        "incidents[0].casualties[0]: low (3) <= best (2) <= high (None) does not hold"
    ]


def test_a_vague_quantity_is_kept_as_its_lower_bound_at_least() -> None:
    data, article = variant("wounding two soldiers", "wounding dozens of soldiers")
    data["incidents"][0]["casualties"][0].update(best=None, low=24, qualifier="at least")
    extraction = run(data, article)
    figure = extraction.incidents[0].casualties[0]
    assert (figure.best, figure.low, figure.qualifier) == (None, 24, "at least")


def test_a_vague_quantity_supports_no_exact_count_and_no_other_bound() -> None:
    data, article = variant("wounding two soldiers", "wounding dozens of soldiers")
    data["incidents"][0]["casualties"][0].update(best=24)
    assert problems(data, article) == [UNSTATED.format("incidents[0].casualties[0].best", 24)]
    data["incidents"][0]["casualties"][0].update(best=None, low=30, qualifier="at least")
    assert problems(data, article) == [UNSTATED.format("incidents[0].casualties[0].low", 30)]


def test_zero_killed_is_supported_by_a_negation_in_its_quote() -> None:
    data, article = variant(", wounding two soldiers", " without causing casualties")
    data["incidents"][0]["casualties"] = [
        {
            "outcome": outcome,
            "party": None,
            "best": 0,
            "low": None,
            "high": None,
            "qualifier": "exact",
            "quote": "without causing casualties",
        }
        for outcome in ("killed", "injured")
    ]
    (incident,) = run(data, article).incidents
    assert [(c.outcome.value, c.best) for c in incident.casualties] == [
        ("killed", 0),
        ("injured", 0),
    ]
    evidence = incident.casualties[0].evidence
    assert article.text[evidence.start : evidence.end] == "without causing casualties"


def test_zero_killed_without_any_negation_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["casualties"][0].update(outcome="killed", best=0)
    assert problems(data) == [UNSTATED.format("incidents[0].casualties[0].best", 0)]


# --- dates --------------------------------------------------------------------------------------


def test_date_phrase_not_in_the_article_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["when"]["phrase"] = "last night"
    assert problems(data) == [
        "incidents[0].when.phrase: 'last night' is not in the article; copy the date words "
        "exactly as written"
    ]


def test_start_date_contradicting_the_phrase_is_rejected_naming_both_dates() -> None:
    data = mortar()
    data["incidents"][0]["when"]["start"] = "2023-11-01"
    assert problems(data) == [
        "incidents[0].when.start: 2023-11-01 contradicts 'yesterday evening', which means "
        "2023-11-07 for an article published 2023-11-08"
    ]


def test_date_after_publication_is_rejected_naming_the_field_and_the_date() -> None:
    data = mortar()
    data["incidents"][0]["when"].update(phrase=None, start="2023-11-07", end="2023-11-09")
    assert problems(data) == [
        "incidents[0].when.end: 2023-11-09 is after the publication date (2023-11-08)"
    ]


def test_phrase_code_cannot_resolve_keeps_the_model_dates_with_unknown_precision() -> None:
    phrase = "on the eve of the holiday"
    data, article = variant("yesterday evening", phrase)
    with pytest.raises(DatePhraseError):
        resolve_date_phrase(phrase, PUBLISHED)
    when = run(data, article).incidents[0].when
    assert when.phrase == phrase
    assert when.source is DateSource.MODEL
    assert when.precision is DatePrecision.UNKNOWN
    assert (when.start, when.end, when.anchor) == (date(2023, 11, 7), date(2023, 11, 7), PUBLISHED)


def test_article_without_publication_date_keeps_the_model_dates() -> None:
    undated = Article.from_text(MORTAR.text)
    when = run(mortar(), undated).incidents[0].when
    assert when.source is DateSource.MODEL
    assert when.precision is DatePrecision.UNKNOWN
    assert (when.start, when.end, when.anchor) == (date(2023, 11, 7), date(2023, 11, 7), None)


def test_article_without_publication_date_and_no_model_dates_has_no_date() -> None:
    data = mortar()
    data["incidents"][0]["when"].update(start=None, end=None)
    when = run(data, Article.from_text(MORTAR.text)).incidents[0].when
    assert when.source is DateSource.NONE
    assert (when.start, when.end, when.phrase) == (None, None, "yesterday evening")


def test_undated_stock_statistic_is_as_of_the_publication_date() -> None:
    data = stats_draft(statistic(2500, "about", "About 2,500 American soldiers", kind="stock"))
    (stock,) = run(data, STATS).statistics
    assert stock.when.source is DateSource.PUBLICATION
    assert stock.when.start == stock.when.end == PUBLISHED
    assert stock.when.precision is DatePrecision.DAY


def test_undated_flow_statistic_has_no_date() -> None:
    data = stats_draft(statistic(64, "exact", "trained 64 Iraqi battalions"))
    (flow,) = run(data, STATS).statistics
    assert flow.when.source is DateSource.NONE
    assert (flow.when.start, flow.when.end) == (None, None)


# --- classification and places ------------------------------------------------------------------


def test_sub_event_type_of_another_event_type_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["sub_event_type"] = "Armed clash"
    assert problems(data) == [
        "incidents[0].sub_event_type: 'Armed clash' is not a sub-event type of "
        "'Explosions/Remote violence'"
    ]


def test_country_code_outside_iso_3166_is_rejected() -> None:
    data = mortar()
    data["incidents"][0]["where"]["country_code"] = "XX"
    assert problems(data) == [
        "incidents[0].where.country_code: 'XX' is not an ISO 3166-1 alpha-2 code"
    ]


@pytest.mark.parametrize("code", ["IQ", "SY", "US"])
def test_iso_country_code_is_kept(code: str) -> None:
    data = mortar()
    data["incidents"][0]["where"]["country_code"] = code
    assert run(data).incidents[0].where.country == code


# --- statistic values ---------------------------------------------------------------------------


@pytest.mark.parametrize("qualifier", ["about", "at least"])
def test_vague_quantity_supports_a_statistic_not_called_exact(qualifier: str) -> None:
    data = stats_draft(statistic(24, qualifier, "Militants have launched dozens of attacks"))
    (found,) = run(data, STATS).statistics
    assert (found.value, found.qualifier.value) == (24, qualifier)


def test_vague_quantity_cannot_support_an_exact_statistic() -> None:
    data = stats_draft(statistic(24, "exact", "Militants have launched dozens of attacks"))
    assert problems(data, STATS) == [
        "statistics[0].value: the article gives 24 as an approximate figure; use qualifier "
        "'about', 'at least' or 'at most'"
    ]


def test_hedged_figure_cannot_be_called_exact() -> None:
    hedged = "About 2,500 American soldiers remain in Iraq."
    assert problems(stats_draft(statistic(2500, "exact", hedged)), STATS) == [
        "statistics[0].value: the article gives 2500 as an approximate figure; use qualifier "
        "'about', 'at least' or 'at most'"
    ]
    (found,) = run(stats_draft(statistic(2500, "about", hedged)), STATS).statistics
    assert found.value == 2500


def test_exactly_stated_statistic_value_is_accepted_as_an_int() -> None:
    data = stats_draft(statistic(64, "exact", "trained 64 Iraqi battalions"))
    (found,) = run(data, STATS).statistics
    assert found.value == 64
    assert isinstance(found.value, int)


def test_statistic_value_not_stated_is_rejected() -> None:
    data = stats_draft(statistic(65, "exact", "trained 64 Iraqi battalions"))
    assert problems(data, STATS) == [UNSTATED.format("statistics[0].value", 65)]


def test_unstated_large_value_is_named_in_full() -> None:
    data = stats_draft(statistic(1234567, "exact", "trained 64 Iraqi battalions"))
    (message,) = problems(data, STATS)
    assert "1234567" in message or "1,234,567" in message


# --- all problems, ids, provenance --------------------------------------------------------------


def test_every_problem_is_reported_at_once_in_draft_order() -> None:
    data = mortar()
    incident = data["incidents"][0]
    incident["evidence"].append("Insurgents fired five rockets")
    incident["sub_event_type"] = "Armed clash"
    incident["where"]["country_code"] = "XX"
    data["statistics"] = [statistic(65, "exact", "two of them landed")]
    expected = [
        "incidents[0].evidence[2]: the quote 'Insurgents fired five rockets' is not in the "
        "article; copy the passage exactly",
        "incidents[0].sub_event_type: 'Armed clash' is not a sub-event type of "
        "'Explosions/Remote violence'",
        "incidents[0].where.country_code: 'XX' is not an ISO 3166-1 alpha-2 code",
        UNSTATED.format("statistics[0].value", 65),
    ]
    with pytest.raises(DraftRejectedError) as caught:
        run(data)
    assert caught.value.problems == expected
    assert str(caught.value).splitlines()[1:] == [f"- {p}" for p in expected]


def test_record_ids_are_the_same_for_the_same_draft_and_article() -> None:
    data = mortar()
    data["statistics"] = [statistic(3, "exact", "three shells were fired")]
    first, second = run(data), run(data)
    ids = [first.incidents[0].id, first.statistics[0].id]
    assert ids == [second.incidents[0].id, second.statistics[0].id]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert ids[0] != ids[1]


def test_record_ids_differ_for_different_summaries_evidence_or_articles() -> None:
    base = run(mortar()).incidents[0].id
    summary = mortar()
    summary["incidents"][0]["summary"] = "Mortar shells hit a checkpoint."
    evidence = mortar()
    evidence["incidents"][0]["evidence"].append("a provincial police officer said")
    other_article = Article.from_text(MORTAR.text + "\nMore later.", published=PUBLISHED)
    others = [
        run(summary).incidents[0].id,
        run(evidence).incidents[0].id,
        run(mortar(), other_article).incidents[0].id,
    ]
    assert len({base, *others}) == 4


def test_two_figures_of_one_quote_with_one_metric_get_their_own_ids() -> None:
    # "about 2,500 American soldiers and a thousand coalition soldiers": one quote, one metric.
    data, article = variant(
        "wounding two soldiers", "wounding two soldiers and three police officers"
    )
    quote = "wounding two soldiers and three police officers"
    data["statistics"] = [statistic(2, "exact", quote), statistic(3, "exact", quote)]
    first, second = run(data, article).statistics
    assert first.id != second.id


def test_provenance_is_attached_to_the_extraction_and_every_record() -> None:
    article = Article.from_file(EXAMPLES / "01-erbil-rockets.txt")
    data = json.loads((EXAMPLES / "01-erbil-rockets.json").read_text("utf-8"))
    result = run(data, article)
    assert (len(result.incidents), len(result.statistics)) == (2, 1)
    assert result.provenance == PROVENANCE
    assert [i.provenance for i in result.incidents] == [PROVENANCE] * 2
    assert [s.provenance for s in result.statistics] == [PROVENANCE]
    assert result.article_id == article.id
