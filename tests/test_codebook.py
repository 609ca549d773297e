"""docs/CODEBOOK.md documents the records as they are, and the prompt names what the model fills.

The codebook documents a field in a table row whose first cell holds its dotted path in
backticks (`incident.munitions.launched`; list items without an index), and a vocabulary value in
a row under the heading that names its class (### `Salience`). These tests hold the codebook to
the models in both directions: a field or value added to the models and not documented fails,
and so does a documented one the models do not have.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import pytest
from pydantic import BaseModel

from conftest import ROOT
from sitrep.model.drafts import DraftIncident, DraftStatistic
from sitrep.model.records import Incident, Statistic
from sitrep.model.vocab import SUB_EVENT_TYPES, EventType, SubEventType

CODEBOOK = ROOT / "docs" / "CODEBOOK.md"
# Every profile's system prompt: the compact one says less, never something else.
PROMPTS = [ROOT / "prompts" / profile / "system.j2" for profile in ("extract", "compact")]
ROOTS: dict[str, type[BaseModel]] = {"incident": Incident, "statistic": Statistic}
DRAFT_ROOTS: dict[str, type[BaseModel]] = {"incident": DraftIncident, "statistic": DraftStatistic}

_TICKED = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"(?:draft\.)?(?:incident|statistic)(?:\.[a-z0-9_]+)+")
_HEADING = re.compile(r"^#{1,6} ")


def _inner(annotation: object) -> Iterator[object]:
    """The annotation and every type inside it: `list[X] | None` gives X too."""
    yield annotation
    for argument in typing.get_args(annotation):
        yield from _inner(argument)


def _submodels(annotation: object) -> list[type[BaseModel]]:
    return [t for t in _inner(annotation) if isinstance(t, type) and issubclass(t, BaseModel)]


def field_paths(model: type[BaseModel], prefix: str) -> Iterator[str]:
    """Every field's dotted path, nested models and the items of lists of models included."""
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}"
        yield path
        for submodel in _submodels(info.annotation):
            yield from field_paths(submodel, path)


def vocabularies(model: type[BaseModel]) -> Iterator[type[StrEnum]]:
    for info in model.model_fields.values():
        for inner in _inner(info.annotation):
            if isinstance(inner, type) and issubclass(inner, StrEnum):
                yield inner
        for submodel in _submodels(info.annotation):
            yield from vocabularies(submodel)


RECORD_PATHS = frozenset(p for prefix, m in ROOTS.items() for p in field_paths(m, prefix))
DRAFT_PATHS = frozenset(p for prefix, m in DRAFT_ROOTS.items() for p in field_paths(m, prefix))
RECORD_VOCABULARIES = sorted(
    {v for m in ROOTS.values() for v in vocabularies(m)}, key=lambda v: v.__name__
)


def codebook() -> str:
    return CODEBOOK.read_text("utf-8")


def table_rows(text: str) -> Iterator[list[str]]:
    """The cells of every table row, header rows included, separator rows left out."""
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"[|\s:-]+", line):
            yield [cell.strip() for cell in line.strip().strip("|").split("|")]


def documented_paths(text: str) -> set[str]:
    """Paths in the first cell of a table row or in a heading: where a field is documented."""
    places = [row[0] for row in table_rows(text)]
    places += [line for line in text.splitlines() if _HEADING.match(line)]
    return {t for place in places for t in _TICKED.findall(place) if _PATH.fullmatch(t)}


def section(text: str, title: str) -> str:
    """The text under the heading that is exactly `title`, up to the next heading."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _HEADING.match(line) and line.endswith(title)]
    assert len(starts) == 1, f"the codebook needs exactly one heading {title!r}"
    body = []
    for line in lines[starts[0] + 1 :]:
        if _HEADING.match(line):
            break
        body.append(line)
    return "\n".join(body)


def first_cells(text: str) -> set[str]:
    return {t for row in table_rows(text) for t in _TICKED.findall(row[0])}


def differences(expected: set[str], found: set[str], what: str) -> list[str]:
    problems = []
    if expected - found:
        problems.append(f"{what} not in the codebook: {sorted(expected - found)}")
    if found - expected:
        problems.append(f"in the codebook but not in the models: {sorted(found - expected)}")
    return problems


def test_every_record_field_is_documented_by_its_dotted_path() -> None:
    documented = {p for p in documented_paths(codebook()) if not p.startswith("draft.")}
    assert not (problems := differences(set(RECORD_PATHS), documented, "fields")), problems


def test_every_path_the_codebook_mentions_is_a_field_of_the_records() -> None:
    mentioned = {t for t in _TICKED.findall(codebook()) if _PATH.fullmatch(t)}
    unknown = {p for p in mentioned if not p.startswith("draft.")} - RECORD_PATHS
    assert not unknown, f"the codebook names fields the records do not have: {sorted(unknown)}"


@pytest.mark.parametrize("vocabulary", RECORD_VOCABULARIES, ids=lambda v: v.__name__)
def test_every_value_of_a_record_vocabulary_is_documented_under_its_heading(
    vocabulary: type[StrEnum],
) -> None:
    found = first_cells(section(codebook(), f"`{vocabulary.__name__}`"))
    expected = {member.value for member in vocabulary}
    assert not (problems := differences(expected, found, "values")), problems


def test_the_vocabulary_walk_finds_the_vocabularies_of_nested_fields() -> None:
    names = {v.__name__ for v in RECORD_VOCABULARIES}
    assert {"Salience", "IncidentStatus", "SubEventType", "StatisticKind"} <= names


def test_every_sub_event_type_is_listed_under_the_event_type_it_belongs_to() -> None:
    listed: dict[str, str] = {}
    for row in table_rows(section(codebook(), "`SubEventType`")):
        value, parent = _TICKED.findall(row[0]), _TICKED.findall(row[1])
        if value and parent:
            listed[value[0]] = parent[0]
    expected = {sub.value: event.value for event, subs in SUB_EVENT_TYPES.items() for sub in subs}
    assert listed == expected


def test_every_draft_field_is_a_documented_record_field_or_in_the_draft_table() -> None:
    """A draft field under a record path is documented there; any other needs a `draft.` row."""
    draft_rows = {p.removeprefix("draft.") for p in documented_paths(codebook())} - RECORD_PATHS
    expected = set(DRAFT_PATHS - RECORD_PATHS)
    assert not (problems := differences(expected, draft_rows, "draft-only fields")), problems


def _draft_fields(model: type[BaseModel]) -> Iterator[tuple[str, str, str | None]]:
    for name, info in model.model_fields.items():
        yield f"{model.__name__}.{name}", name, info.description
        for submodel in _submodels(info.annotation):
            yield from _draft_fields(submodel)


@pytest.mark.parametrize("prompt_file", PROMPTS, ids=lambda p: p.parent.name)
def test_every_field_the_model_fills_is_named_in_the_prompt_or_described_in_its_schema(
    prompt_file: Path,
) -> None:
    """The model sees the system prompt and the schema's descriptions; a field in neither is
    one the model is never told how to fill."""
    prompt = prompt_file.read_text("utf-8")
    untold = sorted(
        where
        for root in DRAFT_ROOTS.values()
        for where, name, description in _draft_fields(root)
        if not description and not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", prompt)
    )
    assert not untold, f"draft fields neither named in {prompt_file} nor described: {untold}"


@pytest.mark.parametrize("prompt_file", PROMPTS, ids=lambda p: p.parent.name)
def test_event_type_pairs_the_prompt_names_are_valid_acled_pairs(prompt_file: Path) -> None:
    prompt = " ".join(prompt_file.read_text("utf-8").split())
    pairs = re.findall(r'"([^"]+)" / "([^"]+)"', prompt)
    assert pairs, "the prompt names no event type / sub-event type pair"
    for event, sub in pairs:
        assert SubEventType(sub) in SUB_EVENT_TYPES[EventType(event)], (event, sub)
