"""One incident as merging sees it (`Mention`), and the names it compares, normalized.

A mention is built from an incident's JSON (a line of `incidents.jsonl`) or from a member of
an existing event (`events.jsonl` keeps each member's facts), so that a later merge never
re-reads old incidents. Slotted dataclasses, not pydantic models: a million of them must fit in
memory.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sitrep.errors import MergeError
from sitrep.model.events import MemberFacts

# Words that name the kind of site, not which one: "Ain al-Asad air base" is Ain al-Asad.
_GENERIC = {
    "the", "a", "an", "of", "in", "near", "at", "base", "air", "airbase", "airfield", "airport",
    "military", "camp", "village", "town", "city", "province", "governorate", "district",
    "area", "outskirts", "international", "us", "u", "s", "iraqi", "coalition", "forces",
}  # fmt: skip
# Transliteration variants of Arabic, Persian and Pashto names, folded to one spelling each.
_VARIANTS = (
    (re.compile(r"\b(ayn|ein|ayin)\b"), "ain"),
    (re.compile(r"\b(el|ul|ad|as|ar|an|at|az)\b"), "al"),
    (re.compile(r"\b(abu|abou|abo)\b"), "abu"),
    (re.compile(r"\b(deir|dayr|dair|der)\b"), "deir"),
    (re.compile(r"ou"), "u"),
    (re.compile(r"ee"), "i"),
    (re.compile(r"oo"), "u"),
    (re.compile(r"([a-z])\1"), r"\1"),  # doubled letters: Assad, Asad
    (re.compile(r"(?<=[a-z])[aeh]\b"), ""),  # a final -a, -e or -h: Ramadi, Ramadia
)
_WORD = re.compile(r"[a-z0-9]+")

# The kind of weapon, from the words an article uses for it.
_WEAPONS = (
    ("drone", ("drone", "uav", "unmanned", "shahed", "quadcopter")),
    ("rocket", ("rocket", "katyusha", "grad")),
    ("missile", ("missile",)),
    ("mortar", ("mortar",)),
    ("artillery", ("artillery", "shell")),
    ("explosive", ("ied", "bomb", "explosive", "landmine", "mine", "vest", "car bomb")),
    ("aircraft", ("aircraft", "jet", "warplane", "plane", "helicopter", "air strike")),
    ("firearm", ("gun", "rifle", "firearm", "shooting", "gunfire")),
)


def fold(text: str) -> str:
    """Lower case, accents and apostrophes dropped: "Ḥadītha" and "Haditha" fold alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"['\u2018\u2019\u02bf\u02be`]", "", plain)


def place_key(name: str | None) -> str:
    """The place name compared across articles: generic words and spelling variants folded."""
    if not name:
        return ""
    words = [w for w in _WORD.findall(fold(name).replace("-", " ")) if w not in _GENERIC]
    text = " ".join(words)
    for pattern, replacement in _VARIANTS:
        text = pattern.sub(replacement, text)
    return text


def weapon_kind(weapon: str | None) -> str | None:
    """The kind of a weapon ("booby-trapped drone" is a drone), or its folded words."""
    if not weapon:
        return None
    folded = fold(weapon)
    for kind, words in _WEAPONS:
        if any(word in folded for word in words):
            return kind
    return " ".join(_WORD.findall(folded)) or None


def _span(figures: list[dict[str, Any]], outcome: str) -> tuple[int, int] | None:
    """One article's figure for an outcome: the sum over parties of the lowest and highest."""
    by_party: dict[str | None, list[int]] = {}
    for figure in figures:
        if figure["outcome"] != outcome:
            continue
        values = [v for v in (figure["best"], figure["low"], figure["high"]) if v is not None]
        if values:
            by_party.setdefault(figure["party"], []).extend(values)
    if not by_party:
        return None
    return sum(min(v) for v in by_party.values()), sum(max(v) for v in by_party.values())


@dataclass(frozen=True, slots=True)
class Mention:
    """An incident's identity and the facts merging compares."""

    incident_id: str
    article_id: str
    salience: str
    event_type: str
    sub_event_type: str
    status: str
    start: date | None
    end: date | None
    precision: str
    time_of_day: str | None
    place: str | None
    site_kind: str | None
    admin1: str | None
    country: str | None
    place_precision: str | None
    perpetrator: str | None
    attribution: str
    weapon: str | None
    launched: int | None
    intercepted: int | None
    impacted: int | None
    killed: tuple[int, int] | None
    injured: tuple[int, int] | None
    summary: str
    extracted_at: str
    # Derived: the compared forms of the place and the weapon.
    place_key: str
    weapon_kind: str | None

    @property
    def is_report(self) -> bool:
        """A main or secondary report; a background mention only joins events, never links them."""
        return self.salience != "background"

    @classmethod
    def from_incident(cls, record: dict[str, Any]) -> Mention:
        """From one line of `incidents.jsonl`."""
        try:
            when, where, munitions = record["when"], record["where"], record["munitions"]
            return cls(
                incident_id=record["id"],
                article_id=record["provenance"]["article_id"],
                salience=record["salience"],
                event_type=record["event_type"],
                sub_event_type=record["sub_event_type"],
                status=record["status"],
                start=_date(when["start"]),
                end=_date(when["end"]),
                precision=when["precision"],
                time_of_day=when["time_of_day"],
                place=where["name"],
                site_kind=where["site_kind"],
                admin1=where["admin1"],
                country=where["country"],
                place_precision=where["precision"],
                perpetrator=record["perpetrator"]["name"],
                attribution=record["perpetrator"]["attribution"],
                weapon=munitions["weapon"],
                launched=munitions["launched"],
                intercepted=munitions["intercepted"],
                impacted=munitions["impacted"],
                killed=_span(record["casualties"], "killed"),
                injured=_span(record["casualties"], "injured"),
                summary=record["summary"],
                extracted_at=record["provenance"]["extracted_at"],
                place_key=place_key(where["name"]),
                weapon_kind=weapon_kind(munitions["weapon"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MergeError(f"not an incident record: {exc!r} in {str(record)[:120]}") from exc

    @classmethod
    def from_member(cls, member: dict[str, Any]) -> Mention:
        """From a member of an event in `events.jsonl`."""
        facts = member["facts"]
        killed, injured = facts["killed"], facts["injured"]
        return cls(
            incident_id=member["incident_id"],
            article_id=member["article_id"],
            salience=member["salience"],
            event_type=facts["event_type"],
            sub_event_type=facts["sub_event_type"],
            status=facts["status"],
            start=_date(facts["start"]),
            end=_date(facts["end"]),
            precision=facts["precision"],
            time_of_day=facts["time_of_day"],
            place=facts["place"],
            site_kind=facts["site_kind"],
            admin1=facts["admin1"],
            country=facts["country"],
            place_precision=facts["place_precision"],
            perpetrator=facts["perpetrator"],
            attribution=facts["attribution"],
            weapon=facts["weapon"],
            launched=facts["launched"],
            intercepted=facts["intercepted"],
            impacted=facts["impacted"],
            killed=None if killed is None else (killed[0], killed[1]),
            injured=None if injured is None else (injured[0], injured[1]),
            summary=facts["summary"],
            extracted_at=facts["extracted_at"],
            place_key=place_key(facts["place"]),
            weapon_kind=weapon_kind(facts["weapon"]),
        )

    def facts(self) -> MemberFacts:
        return MemberFacts.model_validate(
            {name: getattr(self, name) for name in MemberFacts.model_fields}
        )


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)
