"""Final records: drafts completed by code with offsets, resolved dates, ids and provenance.

These are what sitrep emits. A record exists only if every quote behind it was found in the
article, so each carries evidence a reader can check against the text by offsets.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sitrep.model.usage import TokenUsage
from sitrep.model.vocab import (
    Attribution,
    CasualtyOutcome,
    DamageLevel,
    DatePrecision,
    DateSource,
    EventType,
    IncidentStatus,
    MatchKind,
    PlacePrecision,
    Qualifier,
    ReporterKind,
    Salience,
    SiteKind,
    StatisticKind,
    SubEventType,
    TimeOfDay,
)

Count = Annotated[int, Field(ge=0)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Evidence(_Record):
    """A verbatim passage of the article: `text[start:end] == quote`."""

    quote: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    match: MatchKind = Field(description="exact, or found after folding whitespace and quotes.")


class When(_Record):
    phrase: str | None
    start: date | None
    end: date | None
    precision: DatePrecision
    anchor: date | None = Field(description="The publication date the phrase was read against.")
    time_of_day: TimeOfDay | None
    source: DateSource


class Place(_Record):
    name: str | None
    site_kind: SiteKind | None
    admin1: str | None
    country: str | None = Field(description="ISO 3166-1 alpha-2 code.")
    precision: PlacePrecision | None


class Perpetrator(_Record):
    name: str | None
    attribution: Attribution


class Reporter(_Record):
    name: str
    kind: ReporterKind


class Munitions(_Record):
    """null = not reported; 0 = reported as none."""

    weapon: str | None
    launched: Count | None
    intercepted: Count | None
    impacted: Count | None


class CasualtyFigure(_Record):
    outcome: CasualtyOutcome
    party: str | None
    best: Count | None
    low: Count | None
    high: Count | None
    qualifier: Qualifier
    evidence: Evidence


class Damage(_Record):
    level: DamageLevel
    description: str | None


class Provenance(_Record):
    """How a record was made, enough to reproduce or audit it."""

    article_id: str
    model: str
    prompt_version: str
    schema_version: str
    request_ids: list[str] = Field(description="One per model call, re-asks included.")
    usage: TokenUsage = Field(description="Summed over every attempt, re-asks included.")
    reasks: int = Field(ge=0)
    chunks: int = Field(
        default=1,
        ge=1,
        description="Requests the article's text was split into: 1 unless it was too long for one.",
    )
    extracted_at: datetime
    sitrep_version: str


class Incident(_Record):
    """One real-world event."""

    id: str
    summary: str
    salience: Salience
    status: IncidentStatus
    event_type: EventType
    sub_event_type: SubEventType
    when: When
    where: Place
    perpetrator: Perpetrator
    target: str | None
    munitions: Munitions
    casualties: list[CasualtyFigure]
    damage: Damage
    reported_by: list[Reporter]
    evidence: list[Evidence] = Field(min_length=1)
    provenance: Provenance


class Statistic(_Record):
    """An aggregate figure quoted by the article, never folded into incident counts."""

    id: str
    metric: str
    kind: StatisticKind
    value: int | float
    qualifier: Qualifier
    unit: str
    subject: str | None
    object: str | None
    when: When
    where: Place
    reported_by: list[Reporter]
    evidence: list[Evidence] = Field(min_length=1)
    provenance: Provenance


class Extraction(_Record):
    """Everything extracted from one article."""

    article_id: str
    incidents: list[Incident]
    statistics: list[Statistic]
    provenance: Provenance
