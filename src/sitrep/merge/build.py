"""One event from its members: the founding member's description, every member's figures.

Figures come from the reports (main and secondary mentions); a background mention's figure
counts only where no report states that figure, so a passing recollection never overrides
the reports. Where members disagree the event keeps low, best and high, best being the most
conservative (the lowest), as ACLED codes fatalities.
"""

from __future__ import annotations

from collections.abc import Iterable

from sitrep.merge.cluster import event_id, ordered
from sitrep.merge.mentions import Mention
from sitrep.merge.rules import Tolerances, compare
from sitrep.model.events import (
    Event,
    EventMunitions,
    EventPerpetrator,
    EventWhen,
    EventWhere,
    Member,
    Range,
)


def build_event(group: Iterable[Mention], tolerances: Tolerances) -> Event:
    members = ordered(group)
    founding = members[0]
    reports = [m for m in members if m.is_report]
    named = next((m for m in members if m.perpetrator), founding)
    return Event.model_validate(
        {
            "id": event_id(founding.incident_id),
            "event_type": founding.event_type,
            "sub_event_type": founding.sub_event_type,
            "status": founding.status,
            "summary": founding.summary,
            "when": EventWhen.model_validate(
                {"start": founding.start, "end": founding.end, "precision": founding.precision}
            ),
            "where": EventWhere.model_validate(
                {
                    "name": founding.place,
                    "site_kind": founding.site_kind,
                    "admin1": _first(m.admin1 for m in members),
                    "country": founding.country,
                    "precision": founding.place_precision,
                }
            ),
            "perpetrator": EventPerpetrator.model_validate(
                {"name": named.perpetrator, "attribution": named.attribution}
            ),
            "weapon": _first(m.weapon for m in members),
            "munitions": EventMunitions(
                launched=_counts(reports, members, "launched"),
                intercepted=_counts(reports, members, "intercepted"),
                impacted=_counts(reports, members, "impacted"),
            ),
            "fatalities": _spans(reports, members, "killed"),
            "injured": _spans(reports, members, "injured"),
            "sources": len({m.article_id for m in members}),
            "members": [
                Member.model_validate(
                    {
                        "incident_id": m.incident_id,
                        "article_id": m.article_id,
                        "salience": m.salience,
                        "joined_by": [] if m is founding else _joined_by(m, members, tolerances),
                        "founding": m is founding,
                        "facts": m.facts(),
                    }
                )
                for m in members
            ],
        }
    )


def _joined_by(member: Mention, members: list[Mention], tolerances: Tolerances) -> list[str]:
    """The criteria against the founding member, or else the first member that linked it."""
    for index, other in enumerate(members):
        if other is member:
            continue
        criteria = compare(other, member, tolerances)
        if criteria is not None:
            return criteria if index == 0 else [f"via incident {other.incident_id}", *criteria]
    return ["seeded from an earlier merge"]


def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v), None)


def _counts(reports: list[Mention], members: list[Mention], name: str) -> Range | None:
    values = [getattr(m, name) for m in reports if getattr(m, name) is not None]
    if not values:
        values = [getattr(m, name) for m in members if getattr(m, name) is not None]
    if not values:
        return None
    return Range(low=min(values), best=min(values), high=max(values))


def _spans(reports: list[Mention], members: list[Mention], name: str) -> Range | None:
    spans = [getattr(m, name) for m in reports if getattr(m, name) is not None]
    if not spans:
        spans = [getattr(m, name) for m in members if getattr(m, name) is not None]
    if not spans:
        return None
    low = min(s[0] for s in spans)
    return Range(low=low, best=low, high=max(s[1] for s in spans))
