"""What the language model is asked to fill: draft records.

A draft holds what a model is good at: reading, classifying, naming actors, counts, verbatim
quotes and the date phrase as written. Everything code does better (quote offsets, resolved
dates, ids, provenance) is left out here and added by `sitrep.extract.assemble`.

Every field is required and nullable rather than defaulted, and extra keys are forbidden, so the
JSON Schema these models produce is accepted by strict structured-output endpoints as it is.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sitrep.model.vocab import (
    Attribution,
    CasualtyOutcome,
    DamageLevel,
    EventType,
    IncidentStatus,
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
# No minLength: strict structured output rejects it. An empty quote is found nowhere in the
# article, so the checks in code reject it with a message.
Quote = str


class _Draft(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DraftWhen(_Draft):
    """When something happened or what period a figure covers."""

    phrase: str | None = Field(
        description="The date or time words exactly as the article writes them, e.g. "
        "'this morning', 'last Tuesday night', 'the first half of 2024'; null if none.",
    )
    start: date | None = Field(description="Your reading of the first day (YYYY-MM-DD), or null.")
    end: date | None = Field(description="Your reading of the last day (YYYY-MM-DD), or null.")
    time_of_day: TimeOfDay | None = Field(description="Only when the article states it.")


class DraftPlace(_Draft):
    """Where something happened, as precisely as the article says."""

    name: str | None = Field(description="The place as the article names it, or null.")
    site_kind: SiteKind | None
    admin1: str | None = Field(description="Province, governorate or state, if stated.")
    country_code: str | None = Field(
        pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code of the country, e.g. IQ."
    )
    precision: PlacePrecision | None = Field(description="The finest level the article gives.")


class DraftPerpetrator(_Draft):
    name: str | None = Field(description="The actor as named in the article; null if unnamed.")
    attribution: Attribution


class DraftReporter(_Draft):
    """Who asserts the information."""

    name: str = Field(description="As the article names the source, e.g. 'an official source'.")
    kind: ReporterKind


class DraftMunitions(_Draft):
    """What happened to each munition. null = not reported; 0 = reported as none."""

    weapon: str | None = Field(description="e.g. 'booby-trapped drone', 'Katyusha rocket'.")
    launched: Count | None
    intercepted: Count | None = Field(description="Shot down, jammed or destroyed before impact.")
    impacted: Count | None = Field(description="Reached the ground or target and exploded.")


class DraftCasualtyFigure(_Draft):
    """One reported casualty figure. Conflicting figures are separate entries."""

    outcome: CasualtyOutcome
    party: str | None = Field(description="Whose casualties, e.g. 'American soldiers'.")
    best: Count | None = Field(description="The figure as reported; null if only a range.")
    low: Count | None
    high: Count | None
    qualifier: Qualifier
    quote: Quote = Field(description="Verbatim words of the article stating this figure.")


class DraftDamage(_Draft):
    level: DamageLevel
    description: str | None = Field(description="What was damaged, in the article's words.")


class DraftIncident(_Draft):
    """One real-world event."""

    summary: str = Field(description="One plain sentence: who did what to whom, where.")
    salience: Salience
    status: IncidentStatus
    event_type: EventType
    sub_event_type: SubEventType
    when: DraftWhen
    where: DraftPlace
    perpetrator: DraftPerpetrator
    target: str | None = Field(description="What or who was targeted, in the article's words.")
    munitions: DraftMunitions
    casualties: list[DraftCasualtyFigure]
    damage: DraftDamage
    reported_by: list[DraftReporter]
    evidence: list[Quote] = Field(
        min_length=1,
        description="Verbatim passages copied exactly from the article that state this event "
        "and every number given for it.",
    )


class DraftStatistic(_Draft):
    """An aggregate figure the article quotes. Never an incident."""

    metric: str = Field(description="What is counted, e.g. 'military operations', 'troops'.")
    kind: StatisticKind
    value: float = Field(ge=0, description="The figure as stated.")
    qualifier: Qualifier
    unit: str = Field(description="e.g. 'operations', 'soldiers', 'attacks'.")
    subject: str | None = Field(description="Who carried out, holds or suffered the figure.")
    object: str | None = Field(description="Against or over whom, if stated.")
    when: DraftWhen
    where: DraftPlace
    reported_by: list[DraftReporter]
    evidence: list[Quote] = Field(
        min_length=1, description="Verbatim passages copied exactly from the article."
    )


class DraftExtraction(_Draft):
    """Every incident and every statistic in one article."""

    # The schema's title is the function name the model is asked to call.
    model_config = ConfigDict(extra="forbid", frozen=True, title="record_article")

    incidents: list[DraftIncident]
    statistics: list[DraftStatistic]
