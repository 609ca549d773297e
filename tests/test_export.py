"""Flat CSV/Parquet tables from a real batch's outputs, and the crash-safe output files."""

from __future__ import annotations

import asyncio
import csv
import errno
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from conftest import _ENV_VARS, CASSETTES, SEED_FILES
from sitrep.errors import ConfigurationError, OutputError
from sitrep.export.tables import ExportFormat, export, flatten
from sitrep.model.article import Article
from sitrep.run.ledger import ArticleOutcome, ArticleStatus, Ledger
from sitrep.run.outputs import FAILURES, INCIDENTS, STATISTICS, AppendOnlyJsonl, write_failures
from sitrep.run.readers import read_archives
from sitrep.run.scheduler import run_batch
from sitrep.settings import ModelConfig
from sitrep.wire.replay import AsyncReplayTransport, Recordings

MAIN_INCIDENT = "f1833de8af3780e2"  # seed 000's main incident: two drones, both intercepted


@pytest.fixture(scope="module")
def batch_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed archive (and one missing file) run through the batch once, from the cassettes."""
    out = tmp_path_factory.mktemp("batch") / "out"
    inputs = [*SEED_FILES.values(), out.parent / "missing.txt"]
    with pytest.MonkeyPatch.context() as patch:
        for name in _ENV_VARS:
            patch.delenv(name, raising=False)
        summary = asyncio.run(
            run_batch(
                read_archives(inputs),
                ModelConfig(model="gpt-4.1-mini"),
                api_key="test-key-never-sent",
                out_dir=out,
                transport=AsyncReplayTransport(Recordings(CASSETTES / "seeds")),
            )
        )
    assert (summary.run.extracted, summary.run.failed) == (2, 1)
    return out


@pytest.fixture
def out(batch_outputs: Path, tmp_path: Path) -> Path:
    """A private copy of the batch outputs, free to export into."""
    return Path(shutil.copytree(batch_outputs, tmp_path / "out"))


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), list(reader)


def as_csv_text(value: object) -> str:
    """What csv.DictWriter writes for one flattened value."""
    return "" if value is None else str(value)


def test_flatten_dots_nested_keys_and_turns_lists_into_json_text() -> None:
    record = {
        "id": "x",
        "count": 3,
        "when": {"start": "2024-01-02", "end": None, "inner": {"deep": True}},
        "evidence": [{"quote": "Ça brûle", "start": 0}],
        "tags": [],
    }
    assert flatten(record) == {
        "id": "x",
        "count": 3,
        "when.start": "2024-01-02",
        "when.end": None,
        "when.inner.deep": True,
        "evidence": '[{"quote": "Ça brûle", "start": 0}]',
        "tags": "[]",
    }
    assert flatten({"a": 1}, "p.") == {"p.a": 1}


def test_csv_export_writes_one_table_per_output(out: Path) -> None:
    written = export(out, ExportFormat.CSV)
    assert written == [out / "incidents.csv", out / "statistics.csv", out / "failures.csv"]
    assert all(path.is_file() for path in written)


@pytest.mark.parametrize("name", [INCIDENTS, STATISTICS, FAILURES])
def test_csv_has_one_row_per_record_with_the_records_values(out: Path, name: str) -> None:
    export(out, ExportFormat.CSV)
    records = jsonl(out / name)
    header, rows = csv_rows((out / name).with_suffix(".csv"))
    assert len(rows) == len(records) > 0
    for record, row in zip(records, rows, strict=True):
        flat = flatten(record)
        assert header == list(flat)
        assert row == {key: as_csv_text(value) for key, value in flat.items()}


def test_csv_columns_are_dotted_and_lists_round_trip_as_json(out: Path) -> None:
    export(out, ExportFormat.CSV)
    records = {record["id"]: record for record in jsonl(out / INCIDENTS)}
    header, rows = csv_rows(out / "incidents.csv")
    assert {"when.start", "where.country", "munitions.launched"} <= set(header)
    assert "when" not in header
    assert "munitions" not in header
    for row in rows:
        original = records[row["id"]]
        for column in ("evidence", "casualties", "reported_by", "provenance.request_ids"):
            assert json.loads(row[column]) == (
                original["provenance"]["request_ids"]
                if column == "provenance.request_ids"
                else original[column]
            )
    (main,) = (row for row in rows if row["id"] == MAIN_INCIDENT)
    seed = Article.from_file(SEED_FILES["seed_000"])
    assert main["provenance.article_id"] == seed.id
    assert (main["munitions.launched"], main["munitions.intercepted"]) == ("2", "2")
    assert (main["when.start"], main["where.country"]) == ("2022-01-04", "IQ")
    assert main["where.admin1"] == ""  # null
    assert len(json.loads(main["casualties"])) == 2


def test_failures_csv_lists_the_unreadable_input(out: Path) -> None:
    export(out, ExportFormat.CSV)
    _, rows = csv_rows(out / "failures.csv")
    (row,) = rows
    assert row["location"].endswith("missing.txt")
    assert (row["error_kind"], row["reason"], row["attempts"]) == (
        "input",
        "no such file or directory",
        "1",
    )


def test_parquet_export_holds_every_record(out: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    written = export(out, ExportFormat.PARQUET)
    assert written == [
        out / "incidents.parquet",
        out / "statistics.parquet",
        out / "failures.parquet",
    ]
    for name in (INCIDENTS, STATISTICS, FAILURES):
        table = pq.read_table(out / name.replace(".jsonl", ".parquet"))
        assert table.num_rows == len(jsonl(out / name))
    incidents = pq.read_table(out / "incidents.parquet").to_pylist()
    (main,) = (row for row in incidents if row["id"] == MAIN_INCIDENT)
    assert (main["munitions.launched"], main["where.country"]) == (2, "IQ")


def test_parquet_without_pyarrow_asks_for_the_extra(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigurationError, match=r"sitrep\[parquet\]"):
        export(out, ExportFormat.PARQUET)
    assert not (out / "incidents.parquet").exists()


def test_export_of_a_directory_without_outputs_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError, match=r"incidents\.jsonl is missing"):
        export(tmp_path / "empty", ExportFormat.CSV)


class Line(BaseModel):
    n: int
    text: str


def test_append_only_jsonl_cuts_an_uncommitted_tail_on_open(tmp_path: Path) -> None:
    path = tmp_path / INCIDENTS
    output = AppendOnlyJsonl(path, 0)
    assert path.read_bytes() == b""
    output.append([Line(n=1, text="one")])
    committed = output.append([Line(n=2, text="two")])
    output.append([])  # nothing to write: size unchanged
    assert output.size == committed == path.stat().st_size
    output.close()
    with path.open("ab") as stream:
        stream.write(b'{"n": 3, "te')  # killed halfway through the third record
    reopened = AppendOnlyJsonl(path, committed)
    assert path.read_bytes() == b'{"n":1,"text":"one"}\n{"n":2,"text":"two"}\n'
    assert reopened.size == committed
    reopened.append([Line(n=3, text="three")])
    reopened.close()
    assert [json.loads(line)["n"] for line in path.read_text("utf-8").splitlines()] == [1, 2, 3]


class FullDisk:
    """A raw file that takes the first `room` bytes it is given, then fails like a full disk."""

    def __init__(self, raw: Any, room: int) -> None:
        self.raw, self.room = raw, room

    def write(self, data: memoryview) -> int:
        if self.room == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        taken = self.raw.write(data[: self.room])
        self.room -= taken
        return int(taken)

    def close(self) -> None:
        self.raw.close()


def test_append_that_fails_part_way_leaves_the_file_at_its_last_record(tmp_path: Path) -> None:
    path = tmp_path / INCIDENTS
    output = AppendOnlyJsonl(path, 0)
    committed = output.append([Line(n=1, text="one")])
    output._file = FullDisk(output._file, room=5)  # type: ignore[assignment]
    with pytest.raises(OSError, match="No space left"):
        output.append([Line(n=2, text="two")])
    assert path.stat().st_size == output.size == committed  # the five bytes taken are cut off
    output._file = output._file.raw  # type: ignore[attr-defined]
    output.append([Line(n=3, text="three")])
    output.close()
    assert [json.loads(line)["n"] for line in path.read_text("utf-8").splitlines()] == [1, 3]


def failed_ledger(directory: Path) -> Ledger:
    ledger = Ledger.open(directory)
    for article_id in ("a", "b", "c"):
        ledger.add_pending(article_id, f"{article_id}.txt")
        ledger.start(article_id)
    failure = ArticleOutcome(None, None, None, 0, 0, None, error_kind="input", error="no text")
    ledger.finish("a", ArticleStatus.FAILED, failure)
    ledger.start("a")  # retried, failed again: still one row
    ledger.finish("a", ArticleStatus.FAILED, failure)
    ledger.finish("b", ArticleStatus.DONE, ArticleOutcome(None, None, None, 0, 0, None))
    ledger.finish(
        "c",
        ArticleStatus.FAILED,
        ArticleOutcome(None, None, None, 0, 0, None, error_kind="Refusal", error="no"),
    )
    return ledger


def lines(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text("utf-8").splitlines():
        yield json.loads(line)


def test_write_failures_replaces_the_file_whole_with_each_failure_once(tmp_path: Path) -> None:
    ledger = failed_ledger(tmp_path)
    (tmp_path / FAILURES).write_text('{"stale": true}\n', "utf-8")
    try:
        assert write_failures(tmp_path, ledger) == 2
    finally:
        ledger.close()
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []
    assert sorted(lines(tmp_path / FAILURES), key=lambda f: str(f["article_id"])) == [
        {
            "article_id": "a",
            "location": "a.txt",
            "error_kind": "input",
            "reason": "no text",
            "attempts": 2,
        },
        {
            "article_id": "c",
            "location": "c.txt",
            "error_kind": "Refusal",
            "reason": "no",
            "attempts": 1,
        },
    ]


def test_a_line_that_is_not_json_is_an_error_naming_the_file_and_line(out: Path) -> None:
    with (out / INCIDENTS).open("a", encoding="utf-8") as stream:
        stream.write("{not json\n")
    lines = len((out / INCIDENTS).read_text("utf-8").splitlines())
    with pytest.raises(OutputError, match=rf"{INCIDENTS} line {lines} is not JSON"):
        export(out, ExportFormat.CSV)
