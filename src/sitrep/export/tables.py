"""Flat tables from a batch's JSON Lines outputs: CSV, or Parquet with the `parquet` extra.

Nested objects become dotted columns (`when.start`, `where.country`); lists (evidence,
casualties, reporters) become JSON text in one column, so no figure is lost or duplicated and
every row is still one record. Files are read and written a chunk at a time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any

from sitrep.errors import ConfigurationError
from sitrep.run.outputs import FAILURES, INCIDENTS, STATISTICS, read_objects

_CHUNK = 10_000


class ExportFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, ensure_ascii=False)
        else:
            flat[name] = value
    return flat


def export(directory: Path, fmt: ExportFormat) -> list[Path]:
    """Write one table per non-empty output file in `directory`; return the paths written."""
    if not (directory / INCIDENTS).exists():
        raise ConfigurationError(f"{directory} holds no batch outputs ({INCIDENTS} is missing)")
    written = []
    for name in (INCIDENTS, STATISTICS, FAILURES):
        source = directory / name
        if not source.exists():
            continue
        target = source.with_suffix(f".{fmt.value}")
        rows = _rows(source)
        if fmt is ExportFormat.CSV:
            write_csv(rows, target)
        else:
            write_parquet(rows, target)
        written.append(target)
    return written


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    return (flatten(record) for record in read_objects(path))


def write_csv(rows: Iterator[dict[str, Any]], target: Path) -> None:
    with target.open("w", encoding="utf-8", newline="") as stream:
        first = next(rows, None)
        if first is None:
            return
        # Every record of one kind has every field (nulls included), so the first row's
        # columns are every row's.
        writer = csv.DictWriter(stream, fieldnames=list(first))
        writer.writeheader()
        writer.writerow(first)
        writer.writerows(rows)


def write_parquet(rows: Iterator[dict[str, Any]], target: Path) -> None:
    try:
        import pyarrow as pa  # noqa: PLC0415  (optional: `pip install 'sitrep[parquet]'`)
        import pyarrow.parquet as pq  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigurationError(
            "Parquet export needs pyarrow: pip install 'sitrep[parquet]'"
        ) from exc
    writer = None
    try:
        while chunk := list(islice(rows, _CHUNK)):
            if writer is None:
                inferred = pa.Table.from_pylist(chunk).schema
                # A column that is null throughout the first chunk is taken to hold text.
                schema = pa.schema(
                    pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                    for f in inferred
                )
                writer = pq.ParquetWriter(target, schema)
            writer.write_table(pa.Table.from_pylist(chunk, schema=writer.schema))
    finally:
        if writer is not None:
            writer.close()
