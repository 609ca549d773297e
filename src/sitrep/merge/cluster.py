"""Grouping mentions into events: candidate blocks, connected reports, attached backgrounds.

Reports (main and secondary mentions) that `rules.compare` accepts are linked, and an event is
a connected group of them, so the result does not depend on the order incidents arrive in.
Each is compared only with the reports of its blocks (country, event type, sub-event type and
day, within the date window), never with all. A background mention never links two events:
it joins the one compatible event whose place matches it best, or, when none does, the
background mentions of the same earlier event form one of their own.

Merging later incidents into existing events seeds the groups with the events' members: the
reports of one event are already connected, so only the new reports are compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import date

from sitrep.merge.mentions import Mention
from sitrep.merge.rules import Tolerances, compare, place_score, widened

_SALIENCE = {"main": 0, "secondary": 1, "background": 2}
_PRECISION = ("day", "days", "week", "month", "season", "half-year", "year", "unknown")

BlockKey = tuple[str, str, str, int]


def event_id(founding_incident_id: str) -> str:
    return "evt_" + hashlib.sha256(founding_incident_id.encode()).hexdigest()[:16]


def precedence(mention: Mention) -> tuple[int, int, date, str]:
    """Which member founds an event: a main report first, the most precise date, the earliest."""
    precision = _PRECISION.index(mention.precision) if mention.precision in _PRECISION else 9
    return (
        _SALIENCE.get(mention.salience, 3),
        precision,
        mention.start or date.max,
        mention.incident_id,
    )


class Grouping:
    """Mentions grouped into events; `add` new ones, then read `groups`."""

    def __init__(self, tolerances: Tolerances) -> None:
        self.tolerances = tolerances
        self.mentions: dict[str, Mention] = {}
        self._parent: dict[str, str] = {}
        self._blocks: dict[BlockKey, list[Mention]] = {}
        self._backgrounds: list[Mention] = []
        self.comparisons = 0

    def seed(self, members: list[Mention]) -> None:
        """An existing event: its reports are one group already."""
        reports = [m for m in members if m.is_report]
        for mention in members:
            self._insert(mention)
        for mention in reports[1:]:
            self._union(reports[0].incident_id, mention.incident_id)

    def add(self, mention: Mention) -> bool:
        """A new mention; False when its incident was merged before."""
        if mention.incident_id in self.mentions:
            return False
        self._parent[mention.incident_id] = mention.incident_id
        if mention.is_report:
            seen: set[str] = set()
            for key in self._keys(mention, widen=True):
                for other in self._blocks.get(key, ()):
                    if other.incident_id in seen:
                        continue
                    seen.add(other.incident_id)
                    self.comparisons += 1
                    if compare(other, mention, self.tolerances) is not None:
                        self._union(other.incident_id, mention.incident_id)
        self._insert(mention)
        return True

    def groups(self) -> Iterator[list[Mention]]:
        """Every event's members, backgrounds attached (in no set order)."""
        self._attach_backgrounds()
        members: dict[str, list[Mention]] = {}
        for incident_id, mention in self.mentions.items():
            members.setdefault(self._find(incident_id), []).append(mention)
        yield from members.values()

    def _insert(self, mention: Mention) -> None:
        self.mentions[mention.incident_id] = mention
        self._parent.setdefault(mention.incident_id, mention.incident_id)
        if not mention.is_report:
            self._backgrounds.append(mention)
            return
        for key in self._keys(mention, widen=False):
            self._blocks.setdefault(key, []).append(mention)

    def _keys(self, mention: Mention, *, widen: bool) -> Iterator[BlockKey]:
        if mention.country is None or mention.start is None:
            return  # no country or no date: compared with nothing, an event of its own
        if widen:  # both ranges are widened by the window: look twice as far
            span = widened(mention, 2 * self.tolerances.window)
            assert span is not None
            first, last = span
        else:
            first, last = mention.start, mention.end or mention.start
        # A block is one day: a report of one day is stored once and looks up 1 + 4 x window
        # blocks; a month-long range is stored under each of its days.
        for day in range(first.toordinal(), last.toordinal() + 1):
            yield mention.country, mention.event_type, mention.sub_event_type, day

    def _attach_backgrounds(self) -> None:
        """Each background joins its best compatible report, or other such backgrounds."""
        for mention in self._backgrounds:
            self._parent[mention.incident_id] = mention.incident_id
        alone: dict[BlockKey, list[Mention]] = {}
        for mention in sorted(self._backgrounds, key=lambda m: m.incident_id):
            best: tuple[float, int, str] | None = None
            seen: set[str] = set()
            for key in self._keys(mention, widen=True):
                for report in self._blocks.get(key, ()):
                    if report.incident_id in seen:
                        continue
                    seen.add(report.incident_id)
                    self.comparisons += 1
                    if compare(report, mention, self.tolerances) is None:
                        continue
                    rank = (-place_score(report, mention), _distance(report, mention))
                    candidate = (*rank, report.incident_id)
                    if best is None or candidate < best:
                        best = candidate
            if best is not None:
                self._parent[mention.incident_id] = self._find(best[2])
                continue
            for key in self._keys(mention, widen=True):
                for other in alone.get(key, ()):
                    self.comparisons += 1
                    if compare(other, mention, self.tolerances) is not None:
                        self._union(other.incident_id, mention.incident_id)
            for key in self._keys(mention, widen=False):
                alone.setdefault(key, []).append(mention)

    def _find(self, incident_id: str) -> str:
        parent = self._parent
        root = incident_id
        while parent[root] != root:
            root = parent[root]
        while parent[incident_id] != root:  # path compression
            parent[incident_id], incident_id = root, parent[incident_id]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            low, high = sorted((ra, rb))  # the smaller id roots: the same whatever the order
            self._parent[high] = low


def _distance(a: Mention, b: Mention) -> int:
    if a.start is None or b.start is None:
        return 1 << 30
    return abs(a.start.toordinal() - b.start.toordinal())


def ordered(members: Iterable[Mention]) -> list[Mention]:
    """Members founding first, then by precedence."""
    return sorted(members, key=precedence)
