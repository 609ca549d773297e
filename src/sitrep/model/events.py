"""Merged events: incidents of many articles grouped as one real-world event.

`sitrep merge` writes them to `events.jsonl` (docs: the README's "Merging and exports"). Every
event keeps each member incident with the criteria that joined it, and each member carries
the few features merging compares (`MemberFacts`), so a later merge can add new incidents to
existing events without reading the old incidents again.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from sitrep.model.vocab import (
    Attribution,
    DatePrecision,
    EventType,
    IncidentStatus,
    PlacePrecision,
    Salience,
    SiteKind,
    SubEventType,
    TimeOfDay,
)


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Event):
    """Conflicting figures of the members: `best` is the most conservative (the lowest)."""

    low: int = Field(ge=0)
    best: int = Field(ge=0)
    high: int = Field(ge=0)


class EventWhen(_Event):
    start: date | None
    end: date | None
    precision: DatePrecision


class EventWhere(_Event):
    name: str | None
    site_kind: SiteKind | None
    admin1: str | None
    country: str | None
    precision: PlacePrecision | None


class EventPerpetrator(_Event):
    name: str | None
    attribution: Attribution


class EventMunitions(_Event):
    """A figure is null when no member states it."""

    launched: Range | None
    intercepted: Range | None
    impacted: Range | None


class MemberFacts(_Event):
    """What merging compares of one incident, kept so old incidents are never re-read."""

    event_type: EventType
    sub_event_type: SubEventType
    status: IncidentStatus
    start: date | None
    end: date | None
    precision: DatePrecision
    time_of_day: TimeOfDay | None
    place: str | None
    site_kind: SiteKind | None
    admin1: str | None
    country: str | None
    place_precision: PlacePrecision | None
    perpetrator: str | None
    attribution: Attribution
    weapon: str | None
    launched: int | None
    intercepted: int | None
    impacted: int | None
    killed: tuple[int, int] | None = Field(description="This article's low and high.")
    injured: tuple[int, int] | None
    summary: str
    extracted_at: str


class Member(_Event):
    incident_id: str
    article_id: str
    salience: Salience
    joined_by: list[str] = Field(description="The criteria that joined it; empty if founding.")
    founding: bool
    facts: MemberFacts


class Event(_Event):
    id: str = Field(description='"evt_" + 16 hex of sha256 of the founding incident\'s id.')
    event_type: EventType
    sub_event_type: SubEventType
    status: IncidentStatus
    summary: str
    when: EventWhen
    where: EventWhere
    perpetrator: EventPerpetrator
    weapon: str | None
    munitions: EventMunitions
    fatalities: Range | None
    injured: Range | None
    sources: int = Field(ge=1, description="Distinct articles.")
    members: list[Member] = Field(min_length=1)
