"""The JSON Schemas in schemas/ are the models' schemas, and the draft schema suits strict mode."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import ROOT
from sitrep.extract.prompts import TOOL_NAME
from sitrep.extract.request import draft_schema
from sitrep.model.drafts import DraftExtraction
from sitrep.model.schemas import EXPORTED_MODELS, json_schemas, schema_text, schema_version

SCHEMAS = ROOT / "schemas"


@pytest.mark.parametrize("name", sorted(EXPORTED_MODELS))
def test_exported_schema_file_equals_the_models_schema(name: str) -> None:
    path = SCHEMAS / f"{name}.schema.json"
    assert path.exists(), f"{path} is missing: run `sitrep schemas schemas`"
    assert path.read_text("utf-8") == schema_text(json_schemas()[name]), (
        f"{path} has drifted from the model: run `sitrep schemas schemas`"
    )


def test_no_stray_schema_files_are_left_behind() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(
        f"{name}.schema.json" for name in EXPORTED_MODELS
    )


def _objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema inside `schema`, definitions included."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            found.append(schema)
        for value in schema.values():
            found.extend(_objects(value))
    elif isinstance(schema, list):
        for value in schema:
            found.extend(_objects(value))
    return found


def test_draft_schema_meets_strict_structured_output_rules() -> None:
    """Strict mode needs every property required and no additional properties, everywhere."""
    objects = _objects(DraftExtraction.model_json_schema())
    assert len(objects) >= 10
    for obj in objects:
        assert obj.get("additionalProperties") is False, obj.get("title")
        assert sorted(obj["required"]) == sorted(obj["properties"]), obj.get("title")
        assert all("default" not in p for p in obj["properties"].values()), obj.get("title")


def test_tool_definition_is_named_for_the_prompt_and_carries_the_draft_schema() -> None:
    tool = draft_schema()
    assert tool["name"] == TOOL_NAME
    assert tool["parameters"]["properties"].keys() == {"incidents", "statistics"}
    assert "$defs" in tool["parameters"]


def test_schema_version_changes_when_a_schema_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    before = schema_version()
    schema_version.cache_clear()
    changed = json_schemas()
    changed["incident"]["title"] = "Changed"
    monkeypatch.setattr("sitrep.model.schemas.json_schemas", lambda: changed)
    try:
        assert schema_version() != before
    finally:
        schema_version.cache_clear()
