"""Closed vocabularies shared by the drafts a model fills, the final records and the parsers.

They sit below everything that uses them: the date parser returns a `DatePrecision`, the quote
locator a `MatchKind`, and the records carry both.

ACLED's event and sub-event types follow its codebook; `SUB_EVENT_TYPES` says which sub-event
types belong to which event type, so a mismatched pair is caught in code, not trusted.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "SUB_EVENT_TYPES",
    "Attribution",
    "CasualtyOutcome",
    "DamageLevel",
    "DatePrecision",
    "DateSource",
    "EventType",
    "IncidentStatus",
    "MatchKind",
    "PlacePrecision",
    "Qualifier",
    "ReporterKind",
    "Salience",
    "SiteKind",
    "StatisticKind",
    "SubEventType",
    "TimeOfDay",
]


class Salience(StrEnum):
    """How central an incident is to the article."""

    MAIN = "main"  # the event the article is about
    SECONDARY = "secondary"  # another event the article reports as news
    BACKGROUND = "background"  # an earlier event recalled for context


class IncidentStatus(StrEnum):
    OCCURRED = "occurred"  # carried out, at least in part reached its target
    INTERCEPTED = "intercepted"  # every munition was stopped before impact
    ATTEMPTED = "attempted"  # tried and failed for another reason (misfire, defused)
    ALLEGED = "alleged"  # asserted by one side and unconfirmed
    PLANNED = "planned"  # prepared, not yet tried (a plot uncovered); a threat is no incident


class Attribution(StrEnum):
    """On what footing a perpetrator is named."""

    CLAIMED = "claimed"  # the group itself claimed responsibility
    ATTRIBUTED = "attributed"  # a named source states who did it
    SUSPECTED = "suspected"  # a source says who likely or may have done it
    UNKNOWN = "unknown"  # no perpetrator is named


class ReporterKind(StrEnum):
    OFFICIAL = "official"
    MILITARY = "military"
    POLICE = "police"
    MILITANT = "militant"
    WITNESS = "witness"
    MEDIA = "media"


class SiteKind(StrEnum):
    BASE = "base"
    AIRPORT = "airport"
    EMBASSY = "embassy"
    DIPLOMATIC_FACILITY = "diplomatic facility"
    CITY = "city"
    TOWN = "town"
    VILLAGE = "village"
    BORDER_AREA = "border area"
    CHECKPOINT = "checkpoint"
    ROAD = "road"
    OIL_OR_GAS_FACILITY = "oil or gas facility"
    CIVILIAN_BUILDING = "civilian building"
    REGION = "region"
    COUNTRY = "country"
    OTHER = "other"


class PlacePrecision(StrEnum):
    SITE = "site"  # a named facility: a base, an airport, an embassy
    CITY = "city"
    ADMIN1 = "admin1"  # province, governorate, state
    REGION = "region"  # an area within or across countries ("western Iraq", "the border")
    COUNTRY = "country"


class Qualifier(StrEnum):
    """How a figure is stated."""

    EXACT = "exact"
    ABOUT = "about"
    AT_LEAST = "at least"
    AT_MOST = "at most"


class CasualtyOutcome(StrEnum):
    KILLED = "killed"
    INJURED = "injured"


class DamageLevel(StrEnum):
    NONE = "none"  # the article says there was no damage
    MINOR = "minor"
    MAJOR = "major"
    REPORTED = "reported"  # damage is mentioned but not sized
    NOT_REPORTED = "not reported"


class StatisticKind(StrEnum):
    FLOW = "flow"  # counted over a period: operations in the first half of 2024
    STOCK = "stock"  # a level at a date: troops deployed now


class DatePrecision(StrEnum):
    """How exactly a resolved date range is known."""

    DAY = "day"
    DAYS = "days"
    WEEK = "week"
    MONTH = "month"
    SEASON = "season"
    HALF_YEAR = "half-year"
    YEAR = "year"
    UNKNOWN = "unknown"


class TimeOfDay(StrEnum):
    EARLY_MORNING = "early morning"
    MORNING = "morning"
    MIDDAY = "midday"
    AFTERNOON = "afternoon"
    EVENING = "evening"
    NIGHT = "night"


class DateSource(StrEnum):
    CODE = "code"  # resolved from the phrase and the anchor date
    MODEL = "model"  # the phrase could not be resolved in code; the model's reading is kept
    PUBLICATION = "publication"  # an undated level (a stock) is taken as of publication
    NONE = "none"  # no date is known


class MatchKind(StrEnum):
    EXACT = "exact"
    NORMALIZED = "normalized"


class EventType(StrEnum):
    BATTLES = "Battles"
    EXPLOSIONS_REMOTE_VIOLENCE = "Explosions/Remote violence"
    VIOLENCE_AGAINST_CIVILIANS = "Violence against civilians"
    PROTESTS = "Protests"
    RIOTS = "Riots"
    STRATEGIC_DEVELOPMENTS = "Strategic developments"


class SubEventType(StrEnum):
    ARMED_CLASH = "Armed clash"
    GOVERNMENT_REGAINS_TERRITORY = "Government regains territory"
    NON_STATE_ACTOR_OVERTAKES_TERRITORY = "Non-state actor overtakes territory"
    CHEMICAL_WEAPON = "Chemical weapon"
    AIR_DRONE_STRIKE = "Air/drone strike"
    SUICIDE_BOMB = "Suicide bomb"
    SHELLING_ARTILLERY_MISSILE_ATTACK = "Shelling/artillery/missile attack"
    REMOTE_EXPLOSIVE_LANDMINE_IED = "Remote explosive/landmine/IED"
    GRENADE = "Grenade"
    SEXUAL_VIOLENCE = "Sexual violence"
    ATTACK = "Attack"
    ABDUCTION_FORCED_DISAPPEARANCE = "Abduction/forced disappearance"
    PEACEFUL_PROTEST = "Peaceful protest"
    PROTEST_WITH_INTERVENTION = "Protest with intervention"
    EXCESSIVE_FORCE_AGAINST_PROTESTERS = "Excessive force against protesters"
    VIOLENT_DEMONSTRATION = "Violent demonstration"
    MOB_VIOLENCE = "Mob violence"
    AGREEMENT = "Agreement"
    ARRESTS = "Arrests"
    CHANGE_TO_GROUP_ACTIVITY = "Change to group/activity"
    DISRUPTED_WEAPONS_USE = "Disrupted weapons use"
    HEADQUARTERS_OR_BASE_ESTABLISHED = "Headquarters or base established"
    LOOTING_PROPERTY_DESTRUCTION = "Looting/property destruction"
    NON_VIOLENT_TRANSFER_OF_TERRITORY = "Non-violent transfer of territory"
    OTHER = "Other"


_S = SubEventType
SUB_EVENT_TYPES: dict[EventType, frozenset[SubEventType]] = {
    EventType.BATTLES: frozenset(
        {_S.ARMED_CLASH, _S.GOVERNMENT_REGAINS_TERRITORY, _S.NON_STATE_ACTOR_OVERTAKES_TERRITORY}
    ),
    EventType.EXPLOSIONS_REMOTE_VIOLENCE: frozenset(
        {
            _S.CHEMICAL_WEAPON,
            _S.AIR_DRONE_STRIKE,
            _S.SUICIDE_BOMB,
            _S.SHELLING_ARTILLERY_MISSILE_ATTACK,
            _S.REMOTE_EXPLOSIVE_LANDMINE_IED,
            _S.GRENADE,
        }
    ),
    EventType.VIOLENCE_AGAINST_CIVILIANS: frozenset(
        {_S.SEXUAL_VIOLENCE, _S.ATTACK, _S.ABDUCTION_FORCED_DISAPPEARANCE}
    ),
    EventType.PROTESTS: frozenset(
        {_S.PEACEFUL_PROTEST, _S.PROTEST_WITH_INTERVENTION, _S.EXCESSIVE_FORCE_AGAINST_PROTESTERS}
    ),
    EventType.RIOTS: frozenset({_S.VIOLENT_DEMONSTRATION, _S.MOB_VIOLENCE}),
    EventType.STRATEGIC_DEVELOPMENTS: frozenset(
        {
            _S.AGREEMENT,
            _S.ARRESTS,
            _S.CHANGE_TO_GROUP_ACTIVITY,
            _S.DISRUPTED_WEAPONS_USE,
            _S.HEADQUARTERS_OR_BASE_ESTABLISHED,
            _S.LOOTING_PROPERTY_DESTRUCTION,
            _S.NON_VIOLENT_TRANSFER_OF_TERRITORY,
            _S.OTHER,
        }
    ),
}
