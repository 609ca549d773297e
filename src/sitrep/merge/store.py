"""`sitrep merge`'s files in a run directory: `events.jsonl` and `merge-state.json`.

`events.jsonl` holds the events sorted by id, each member with the facts merging compares, so
it is also the state a later merge starts from. `merge-state.json` says how far
`incidents.jsonl` was read (its byte offset: the file is only ever appended to) and with which
tolerances. Two small files rather than a SQLite table: the events file is what every reader
wants anyway, a merge rewrites it whole in sorted order, and the one extra fact, an offset,
needs no database. Both are replaced atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitrep.errors import MergeError
from sitrep.merge.build import build_event
from sitrep.merge.cluster import Grouping, event_id, precedence
from sitrep.merge.mentions import Mention
from sitrep.merge.rules import Tolerances
from sitrep.model.events import Event
from sitrep.run.outputs import INCIDENTS

EVENTS = "events.jsonl"
STATE = "merge-state.json"
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class MergeSummary:
    events: int
    incidents: int  # every incident in the events
    new: int  # incidents merged by this call
    comparisons: int


def merge_run(directory: Path, tolerances: Tolerances | None = None) -> MergeSummary:
    """Merge the incidents of `directory` not merged before into its events."""
    tolerances = tolerances or Tolerances()
    source = directory / INCIDENTS
    if not source.exists():
        raise MergeError(f"{directory} holds no batch outputs ({INCIDENTS} is missing)")
    state = _read_state(directory)
    grouping = Grouping(tolerances)
    offset = 0
    if state is not None:
        if (state["window"], state["place_score"]) != (tolerances.window, tolerances.place_score):
            raise MergeError(
                f"{directory / EVENTS} was merged with --window {state['window']}; merge with "
                f"the same window, or delete {EVENTS} and {STATE} to merge afresh"
            )
        offset = state["incidents_offset"]
        for members in read_event_members(directory / EVENTS):
            grouping.seed(members)
    new, merged_to = 0, offset
    for mention, end in _new_mentions(source, offset):
        merged_to = end
        if mention is not None:
            new += grouping.add(mention)
    # Sorted by id before any event is built, so only one event is held at a time.
    groups = sorted(
        (event_id(min(group, key=precedence).incident_id), group) for group in grouping.groups()
    )
    lines = (
        build_event(group, tolerances).model_dump_json().encode() + b"\n" for _, group in groups
    )
    _replace(directory / EVENTS, lines)
    _replace(
        directory / STATE,
        iter(
            [
                json.dumps(
                    {
                        "format": _FORMAT,
                        "window": tolerances.window,
                        "place_score": tolerances.place_score,
                        "incidents_offset": merged_to,
                    },
                    indent=2,
                ).encode()
                + b"\n"
            ]
        ),
    )
    return MergeSummary(len(groups), len(grouping.mentions), new, grouping.comparisons)


def read_events(path: Path) -> Iterator[Event]:
    for number, line in _lines(path):
        try:
            yield Event.model_validate_json(line)
        except ValueError as exc:
            raise MergeError(f"{path} line {number} is not an event: {exc}") from exc


def read_event_members(path: Path) -> Iterator[list[Mention]]:
    """Each event's members as mentions, without building the events (a fast path)."""
    for number, line in _lines(path):
        try:
            yield [Mention.from_member(m) for m in json.loads(line)["members"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise MergeError(f"{path} line {number} is not an event: {exc!r}") from exc


def explain(directory: Path, event: str) -> list[str]:
    """Lines saying how each member of `event` joined it."""
    path = directory / EVENTS
    if not path.exists():
        raise MergeError(f"{directory} has no {EVENTS}: run `sitrep merge {directory}` first")
    for found in read_events(path):
        if found.id == event:
            return _explanation(found)
    raise MergeError(f"no event {event!r} in {path}")


def _explanation(event: Event) -> list[str]:
    where = event.where.name or "unknown place"
    when = event.when.start.isoformat() if event.when.start else "unknown date"
    lines = [
        f"{event.id}: {event.event_type} / {event.sub_event_type}, {where} "
        f"({event.where.country or '?'}), {when}; {event.sources} source(s), "
        f"{len(event.members)} incident(s)"
    ]
    for member in event.members:
        role = "founding" if member.founding else "joined by: " + "; ".join(member.joined_by)
        lines.append(
            f"  {member.incident_id} (article {member.article_id}, {member.salience}): {role}"
        )
    return lines


def _read_state(directory: Path) -> dict[str, Any] | None:
    path = directory / STATE
    if not path.exists():
        if (directory / EVENTS).exists():
            raise MergeError(f"{directory / EVENTS} exists without {STATE}: delete it to merge")
        return None
    try:
        state: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except ValueError as exc:
        raise MergeError(f"{path} is not JSON: {exc}") from exc
    if state.get("format") != _FORMAT:
        raise MergeError(f"{path} has format {state.get('format')!r}, not {_FORMAT}")
    size = (directory / INCIDENTS).stat().st_size
    if size < state["incidents_offset"]:
        raise MergeError(
            f"{directory / INCIDENTS} is shorter than when it was merged: delete {EVENTS} and "
            f"{STATE} to merge afresh"
        )
    return state


def _new_mentions(path: Path, offset: int) -> Iterator[tuple[Mention | None, int]]:
    """Each complete line past `offset` as its incident (None for a blank line) and the offset
    just past it, read once: the state records exactly what was merged, however the file
    grows meanwhile (a line still being written waits for the next merge)."""
    start = offset
    with path.open("rb") as stream:
        stream.seek(offset)
        for number, line in enumerate(stream, 1):
            if not line.endswith(b"\n"):
                return
            offset += len(line)
            if not line.strip():
                yield None, offset
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise MergeError(f"{path}: line {number} past byte {start} is not JSON") from exc
            yield Mention.from_incident(record), offset


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of `path` with their line numbers, for messages."""
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if line.strip():
                yield number, line


def _replace(path: Path, chunks: Iterator[bytes]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as stream:
        for chunk in chunks:
            stream.write(chunk)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
