"""JSON Schema exports of the record models, and the schema version stamped on every record.

`schemas/*.schema.json` in the repository are written by `sitrep schemas DIR` and a test fails
when they drift from the models.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sitrep.model.drafts import DraftExtraction
from sitrep.model.records import Extraction, Incident, Statistic

EXPORTED_MODELS: dict[str, type[BaseModel]] = {
    "draft": DraftExtraction,  # what the model is asked to fill
    "incident": Incident,
    "statistic": Statistic,
    "extraction": Extraction,  # everything from one article
}


def json_schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema() for name, model in EXPORTED_MODELS.items()}


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@cache
def schema_version() -> str:
    """A hash of every exported schema: it changes whenever a record's shape does."""
    joined = "".join(schema_text(s) for s in json_schemas().values())
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(schema_text(schema), encoding="utf-8")
        written.append(path)
    return written
