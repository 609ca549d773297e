"""Check a model's draft against the article and complete it into final records.

Every check a model could fail is made here, in code, and every failure becomes a message that
names the field and says what to fix; `DraftRejectedError` carries them back to the model as a
re-ask.
The checks: each quote is found in the text (exact, then normalized); each count appears in its
evidence; intercepted + impacted never exceed launched; each date phrase is in the text, resolves
against the publication date, and agrees with any date the model stated; the ACLED sub-event type
belongs to its event type; country codes are ISO 3166-1 alpha-2.
A draft of one chunk of a long article is checked against that chunk (`sitrep.text.chunks`):
its quotes and date phrases must be in the text the model was shown, and its offsets are still
those of the whole article.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import pycountry
from pydantic import BaseModel

from sitrep.model.article import Article
from sitrep.model.drafts import (
    DraftCasualtyFigure,
    DraftExtraction,
    DraftIncident,
    DraftMunitions,
    DraftPlace,
    DraftStatistic,
    DraftWhen,
)
from sitrep.model.records import (
    CasualtyFigure,
    Damage,
    Evidence,
    Extraction,
    Incident,
    Munitions,
    Perpetrator,
    Place,
    Provenance,
    Reporter,
    Statistic,
    When,
)
from sitrep.model.vocab import (
    SUB_EVENT_TYPES,
    DatePrecision,
    DateSource,
    IncidentStatus,
    MatchKind,
    Qualifier,
    StatisticKind,
)
from sitrep.text.chunks import Chunk, ChunkText
from sitrep.text.dates import DatePhraseError, resolve_date_phrase
from sitrep.text.evidence import NormalizedText
from sitrep.text.numbers import find_numbers, supports_count, supports_lower_bound


class DraftRejectedError(ValueError):
    """The draft failed checks in code. Its message lists every problem, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "The extraction failed these checks against the article:\n"
            + "\n".join(f"- {p}" for p in self.problems)
        )


@dataclass
class _Checker:
    """Walks one draft, collecting problems instead of stopping at the first."""

    article: Article
    located: NormalizedText | ChunkText  # spans in offsets of the whole article
    problems: list[str] = field(default_factory=list)

    def evidence(self, path: str, quote: str) -> Evidence | None:
        span = self.located.locate(quote)
        if span is None:
            self.problems.append(
                f"{path}: the quote {quote!r} is not in the article; copy the passage exactly"
            )
            return None
        return Evidence(
            quote=self.article.text[span.start : span.end],
            start=span.start,
            end=span.end,
            match=span.match,
        )

    def evidence_list(self, path: str, quotes: Sequence[str]) -> list[Evidence]:
        found = (self.evidence(f"{path}[{i}]", q) for i, q in enumerate(quotes))
        return [e for e in found if e is not None]

    def count(self, path: str, value: int | None, passages: Sequence[Evidence]) -> None:
        if value is not None and passages and not _stated(value, passages):
            self.problems.append(_unstated(path, value))

    def figure(
        self, path: str, value: float, qualifier: Qualifier, passages: Sequence[Evidence]
    ) -> None:
        """A statistic's value must be stated; a hedged or vague figure is never "exact"."""
        if not passages:
            return
        matching = [m for e in passages for m in find_numbers(e.quote) if m.value == value]
        if not matching:
            if not (value == 0 and _stated(0, passages)):
                self.problems.append(_unstated(path, value))
            return
        if qualifier is Qualifier.EXACT and all(m.approximate for m in matching):
            self.problems.append(
                f"{path}: the article gives {_number(value)} as an approximate figure; use "
                "qualifier 'about', 'at least' or 'at most'"
            )

    def when(self, path: str, draft: DraftWhen, *, as_of_publication: bool = False) -> When:
        """Resolve the phrase in code; an undated stock is as of the publication date."""
        published = self.article.published
        undated = draft.phrase is None and draft.start is None and draft.end is None
        if as_of_publication and undated and published is not None:
            return When(
                phrase=None,
                start=published,
                end=published,
                precision=DatePrecision.DAY,
                anchor=published,
                time_of_day=None,
                source=DateSource.PUBLICATION,
            )
        for name, day in (("start", draft.start), ("end", draft.end)):
            if published is not None and day is not None and day > published:
                self.problems.append(
                    f"{path}.{name}: {day} is after the publication date ({published})"
                )
        if draft.start and draft.end and draft.start > draft.end:
            self.problems.append(f"{path}: start {draft.start} is after end {draft.end}")
        if draft.phrase is not None and self.located.locate(draft.phrase) is None:
            self.problems.append(
                f"{path}.phrase: {draft.phrase!r} is not in the article; copy the date words "
                "exactly as written"
            )
            return _unresolved(draft, published)
        if draft.phrase is None or published is None:
            return _unresolved(draft, published)
        try:
            resolved = resolve_date_phrase(draft.phrase, published)
        except DatePhraseError:
            return _unresolved(draft, published)
        for name, day in (("start", draft.start), ("end", draft.end)):
            if day is not None and not resolved.start <= day <= resolved.end:
                meaning = _describe(resolved.start, resolved.end)
                self.problems.append(
                    f"{path}.{name}: {day} contradicts {draft.phrase!r}, which means {meaning} "
                    f"for an article published {published}"
                )
        return When(
            phrase=draft.phrase,
            start=resolved.start,
            end=resolved.end,
            precision=resolved.precision,
            anchor=published,
            time_of_day=resolved.time_of_day or draft.time_of_day,
            source=DateSource.CODE,
        )

    def place(self, path: str, draft: DraftPlace) -> Place:
        code = draft.country_code
        if code is not None and pycountry.countries.get(alpha_2=code) is None:
            self.problems.append(f"{path}.country_code: {code!r} is not an ISO 3166-1 alpha-2 code")
        return Place(
            name=draft.name,
            site_kind=draft.site_kind,
            admin1=draft.admin1,
            country=code,
            precision=draft.precision,
        )

    def munitions(self, path: str, draft: DraftMunitions, evidence: Sequence[Evidence]) -> None:
        counts = {
            "launched": draft.launched,
            "intercepted": draft.intercepted,
            "impacted": draft.impacted,
        }
        stated = {k: v is not None and _stated(v, evidence) for k, v in counts.items()}
        # "Two drones: one was shot down and the second exploded" states impacted only as the
        # rest of launched; a count equal to launched minus the other, both stated, is supported.
        for name, other in (("intercepted", "impacted"), ("impacted", "intercepted")):
            value, rest, launched = counts[name], counts[other], draft.launched
            if value is None or rest is None or launched is None or stated[name]:
                continue
            stated[name] = stated["launched"] and stated[other] and value == launched - rest
        for name, value in counts.items():
            if value is not None and evidence and not stated[name]:
                self.problems.append(_unstated(f"{path}.{name}", value))
        if draft.launched is None:
            return
        stopped, hit = draft.intercepted or 0, draft.impacted or 0
        if stopped + hit > draft.launched:
            self.problems.append(
                f"{path}: intercepted ({stopped}) plus impacted ({hit}) exceed launched "
                f"({draft.launched})"
            )

    def casualty(self, path: str, draft: DraftCasualtyFigure) -> CasualtyFigure | None:
        """Each figure is checked against its own quote, not the incident's other numbers."""
        quote = self.evidence(f"{path}.quote", draft.quote)
        figures = {"best": draft.best, "low": draft.low, "high": draft.high}
        if all(v is None for v in figures.values()):
            self.problems.append(f"{path}: give best, or low and high")
        vague_floor = draft.best is None and draft.qualifier is Qualifier.AT_LEAST
        for name, value in figures.items():
            if name == "low" and vague_floor and value is not None and quote is not None:
                # "dozens wounded": a lower bound with no figure, coded low with "at least".
                if not supports_lower_bound(value, quote.quote):
                    self.problems.append(_unstated(f"{path}.low", value))
                continue
            self.count(f"{path}.{name}", value, [quote] if quote else [])
        ordered = [v for v in (draft.low, draft.best, draft.high) if v is not None]
        if ordered != sorted(ordered):
            self.problems.append(
                f"{path}: low ({draft.low}) <= best ({draft.best}) <= high ({draft.high}) "
                "does not hold"
            )
        if quote is None:
            return None
        return CasualtyFigure(
            outcome=draft.outcome,
            party=draft.party,
            best=draft.best,
            low=draft.low,
            high=draft.high,
            qualifier=draft.qualifier,
            evidence=quote,
        )

    def incident(self, path: str, draft: DraftIncident, provenance: Provenance) -> Incident:
        evidence = self.evidence_list(f"{path}.evidence", draft.evidence)
        if draft.sub_event_type not in SUB_EVENT_TYPES[draft.event_type]:
            self.problems.append(
                f"{path}.sub_event_type: {draft.sub_event_type.value!r} is not a sub-event type "
                f"of {draft.event_type.value!r}"
            )
        self.munitions(f"{path}.munitions", draft.munitions, evidence)
        if draft.status is IncidentStatus.INTERCEPTED and (draft.munitions.impacted or 0) > 0:
            self.problems.append(
                f"{path}.status: 'intercepted' means nothing hit, but impacted is "
                f"{draft.munitions.impacted}; use 'occurred'"
            )
        casualties = [
            self.casualty(f"{path}.casualties[{i}]", c) for i, c in enumerate(draft.casualties)
        ]
        return Incident(
            id=_record_id(self.article.id, "incident", evidence, draft),
            summary=draft.summary,
            salience=draft.salience,
            status=draft.status,
            event_type=draft.event_type,
            sub_event_type=draft.sub_event_type,
            when=self.when(f"{path}.when", draft.when),
            where=self.place(f"{path}.where", draft.where),
            perpetrator=Perpetrator(**draft.perpetrator.model_dump()),
            target=draft.target,
            munitions=Munitions(**draft.munitions.model_dump()),
            casualties=[c for c in casualties if c is not None],
            damage=Damage(**draft.damage.model_dump()),
            reported_by=[Reporter(**r.model_dump()) for r in draft.reported_by],
            evidence=evidence or [_PLACEHOLDER],
            provenance=provenance,
        )

    def statistic(self, path: str, draft: DraftStatistic, provenance: Provenance) -> Statistic:
        evidence = self.evidence_list(f"{path}.evidence", draft.evidence)
        self.figure(f"{path}.value", draft.value, draft.qualifier, evidence)
        is_stock = draft.kind is StatisticKind.STOCK
        return Statistic(
            id=_record_id(self.article.id, "statistic", evidence, draft),
            metric=draft.metric,
            kind=draft.kind,
            value=int(draft.value) if draft.value.is_integer() else draft.value,
            qualifier=draft.qualifier,
            unit=draft.unit,
            subject=draft.subject,
            object=draft.object,
            when=self.when(f"{path}.when", draft.when, as_of_publication=is_stock),
            where=self.place(f"{path}.where", draft.where),
            reported_by=[Reporter(**r.model_dump()) for r in draft.reported_by],
            evidence=evidence or [_PLACEHOLDER],
            provenance=provenance,
        )


# Stands in for evidence that was not found while the remaining checks run; a draft with any
# unfound quote is rejected, so this never reaches a returned record.
_PLACEHOLDER = Evidence(quote="", start=0, end=0, match=MatchKind.EXACT)


def assemble(
    draft: DraftExtraction, article: Article, provenance: Provenance, chunk: Chunk | None = None
) -> Extraction:
    """Check `draft` against `article`, or against the `chunk` of it the model was shown;
    return final records or raise `DraftRejectedError`."""
    located = NormalizedText(article.text) if chunk is None else ChunkText(article.text, chunk)
    checker = _Checker(article=article, located=located)
    incidents = [
        checker.incident(f"incidents[{i}]", d, provenance) for i, d in enumerate(draft.incidents)
    ]
    statistics = [
        checker.statistic(f"statistics[{i}]", d, provenance) for i, d in enumerate(draft.statistics)
    ]
    if checker.problems:
        raise DraftRejectedError(checker.problems)
    return Extraction(
        article_id=article.id, incidents=incidents, statistics=statistics, provenance=provenance
    )


def _stated(value: int, passages: Sequence[Evidence]) -> bool:
    return any(supports_count(value, e.quote) for e in passages)


def _unstated(path: str, value: float) -> str:
    return (
        f"{path}: {_number(value)} is not stated in this record's evidence; quote the passage "
        "that gives it, or use null if the article does not say"
    )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _unresolved(draft: DraftWhen, published: date | None) -> When:
    known = draft.start is not None or draft.end is not None
    return When(
        phrase=draft.phrase,
        start=draft.start,
        end=draft.end,
        precision=DatePrecision.UNKNOWN,
        anchor=published,
        time_of_day=draft.time_of_day,
        source=DateSource.MODEL if known else DateSource.NONE,
    )


def _describe(start: date, end: date) -> str:
    return str(start) if start == end else f"{start} to {end}"


def _record_id(article_id: str, kind: str, evidence: Sequence[Evidence], draft: BaseModel) -> str:
    """Stable across runs: the same reading of the same article gives the same id. The whole
    draft is hashed, not a label: two figures of one quote ("about 2,500 American soldiers
    and a thousand coalition soldiers") share their evidence and metric, not their value."""
    spans = ",".join(f"{e.start}-{e.end}" for e in evidence)
    reading = draft.model_dump_json()
    return hashlib.sha256(f"{article_id}|{kind}|{spans}|{reading}".encode()).hexdigest()[:16]
