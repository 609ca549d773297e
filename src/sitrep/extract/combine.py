"""A long article's chunks joined: the records of every chunk become those of one article.

    [(Chunk, Extraction), ...] in order → `combine_chunks` → one `Extraction`

Each chunk is extracted alone (`RequestBuilder.chunks`, one `Conversation` each) and its evidence
is located in offsets of the whole article, so records of different chunks can be compared
directly. Neighbouring chunks share their overlap, and what the article reports there is read
twice. Two readings are one record when:

- they come from neighbouring chunks (no other two chunks share any text) and are of one kind;
- their evidence overlaps: a passage of one shares characters of the article with a passage of
  the other, which only text in the overlap can, since each passage is in its own chunk;
- they agree on what happened: incidents on the event type and sub-event type, statistics on
  the kind and the value, so two figures quoted in one sentence stay two;
- each reading joins at most one of the other chunk's: where several could pair, the pairs that
  share the most identical passages, then the most characters of evidence, pair first, so two
  incidents told in one sentence stay two when both chunks read them.

A joined record keeps the fields of the reading with the most characters of evidence (the
earlier on a tie), the evidence of every reading (a passage both quote is kept once, all in the
order of the article), every casualty figure (identical ones once; differing ones are all kept,
as conflicting figures always are) and every reporter. Its id is a hash of the ids of the
readings it joins, so the same readings give the same id in every run. A record found in one
chunk only is kept as it is, and one repeated word for word within an answer (the same id:
the same reading of the same passages) is kept once, so ids are unique within the article.

Every record's provenance becomes the article's: the request ids of every chunk, their usage and
re-asks summed, and `chunks` the number of chunks.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from collections.abc import Callable, Sequence
from typing import TypeVar

from sitrep.model.records import Evidence, Extraction, Incident, Provenance, Statistic
from sitrep.model.usage import TokenUsage
from sitrep.text.chunks import Chunk

Record = TypeVar("Record", Incident, Statistic)


def combine_chunks(article_id: str, parts: Sequence[tuple[Chunk, Extraction]]) -> Extraction:
    """The records of one article read in `parts`, one per chunk in the order of the text."""
    if not parts:
        raise ValueError("an article has at least one chunk")
    provenance = joined_provenance([extraction.provenance for _, extraction in parts])
    incidents = _join(
        article_id, "incident", [e.incidents for _, e in parts], _same_incident, provenance
    )
    statistics = _join(
        article_id, "statistic", [e.statistics for _, e in parts], _same_statistic, provenance
    )
    return Extraction(
        article_id=article_id, incidents=incidents, statistics=statistics, provenance=provenance
    )


def joined_provenance(provenances: Sequence[Provenance]) -> Provenance:
    """One provenance for the chunks' answers: ids listed, usage and re-asks summed."""
    usage = functools.reduce(operator.add, (p.usage for p in provenances), TokenUsage())
    return provenances[0].model_copy(
        update={
            "request_ids": [request_id for p in provenances for request_id in p.request_ids],
            "usage": usage,
            "reasks": sum(p.reasks for p in provenances),
            "chunks": len(provenances),
            "extracted_at": max(p.extracted_at for p in provenances),
        }
    )


def _same_incident(a: Incident, b: Incident) -> bool:
    return (a.event_type, a.sub_event_type) == (b.event_type, b.sub_event_type)


def _same_statistic(a: Statistic, b: Statistic) -> bool:
    return (a.kind, a.value) == (b.kind, b.value)


def _join(
    article_id: str,
    kind: str,
    chunks: Sequence[Sequence[Record]],
    agree: Callable[[Record, Record], bool],
    provenance: Provenance,
) -> list[Record]:
    # Each reading is (chunk index, position in its answer); `root` joins them in groups.
    root: dict[tuple[int, int], tuple[int, int]] = {}

    def find(node: tuple[int, int]) -> tuple[int, int]:
        while root.get(node, node) != node:
            node = root[node]
        return node

    for left in range(len(chunks) - 1):
        for i, j in _pairs(chunks[left], chunks[left + 1], agree):
            root[find((left + 1, j))] = find((left, i))
    groups: dict[tuple[int, int], list[Record]] = {}
    for number, records in enumerate(chunks):
        for position, record in enumerate(records):
            groups.setdefault(find((number, position)), []).append(record)
    joined: dict[str, Record] = {}  # by id, in the order of each group's first reading
    for readings in groups.values():
        record = readings[0] if len(readings) == 1 else _merged(article_id, kind, readings)
        joined.setdefault(record.id, record.model_copy(update={"provenance": provenance}))
    return list(joined.values())


def _pairs(
    left: Sequence[Record], right: Sequence[Record], agree: Callable[[Record, Record], bool]
) -> list[tuple[int, int]]:
    """One-to-one pairs of readings of two neighbouring chunks, the best matched first."""
    scored = []
    for i, a in enumerate(left):
        for j, b in enumerate(right):
            identical, shared = _shared(a.evidence, b.evidence)
            if shared and agree(a, b):
                scored.append((-identical, -shared, i, j))
    taken_left: set[int] = set()
    taken_right: set[int] = set()
    pairs = []
    for _, _, i, j in sorted(scored):
        if i not in taken_left and j not in taken_right:
            taken_left.add(i)
            taken_right.add(j)
            pairs.append((i, j))
    return pairs


def _shared(a: Sequence[Evidence], b: Sequence[Evidence]) -> tuple[int, int]:
    """Passages the two quote identically, and characters of the article both quote."""
    identical = len({(e.start, e.end) for e in a} & {(e.start, e.end) for e in b})
    shared = sum(max(0, min(x.end, y.end) - max(x.start, y.start)) for x in a for y in b)
    return identical, shared


def _merged(article_id: str, kind: str, readings: Sequence[Record]) -> Record:
    # The earliest reading wins a tie: max keeps the first of equal keys.
    primary = max(readings, key=lambda r: sum(e.end - e.start for e in r.evidence))
    evidence = sorted(
        {(e.start, e.end): e for r in readings for e in r.evidence}.values(),
        key=lambda e: (e.start, e.end),
    )
    update: dict[str, object] = {
        "id": _joined_id(article_id, kind, readings),
        "evidence": evidence,
        "reported_by": _union([r.reported_by for r in _first(primary, readings)]),
    }
    if isinstance(primary, Incident):
        incidents = [r for r in _first(primary, readings) if isinstance(r, Incident)]
        update["casualties"] = _union([r.casualties for r in incidents])
    return primary.model_copy(update=update)


def _first(primary: Record, readings: Sequence[Record]) -> list[Record]:
    return [primary] + [r for r in readings if r is not primary]


Item = TypeVar("Item")


def _union(lists: Sequence[Sequence[Item]]) -> list[Item]:
    """Every item once, in the order first seen."""
    seen: list[Item] = []
    for items in lists:
        seen.extend(item for item in items if item not in seen)
    return seen


def _joined_id(article_id: str, kind: str, readings: Sequence[Incident | Statistic]) -> str:
    members = ",".join(sorted(r.id for r in readings))
    return hashlib.sha256(f"{article_id}|{kind}|joined|{members}".encode()).hexdigest()[:16]
