"""`sitrep merge` and the exports of events, end to end on the example archive's replayed run."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sitrep.cli import main
from sitrep.export.events import ACLED_COLUMNS, ACLED_EMPTY
from sitrep.merge.store import EVENTS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"OPENAI_API_KEY": ""})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    archive, cassettes = ROOT / "examples" / "archive", ROOT / "cassettes" / "archive"
    code, output = invoke("run", str(archive), "--out", str(out), "--replay", str(cassettes))
    assert code == 0, output
    return out


def test_merge_explain_and_export_work_on_the_example_archives_run(run_dir: Path) -> None:
    code, output = invoke("merge", str(run_dir))
    assert code == 0, output
    incidents = len((run_dir / "incidents.jsonl").read_text("utf-8").splitlines())
    events = [json.loads(line) for line in (run_dir / EVENTS).read_text("utf-8").splitlines()]
    assert sum(len(e["members"]) for e in events) == incidents
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    code, output = invoke("merge", str(run_dir), "--explain", events[0]["id"])
    assert code == 0
    assert output.startswith(events[0]["id"])
    assert "founding" in output
    code, output = invoke("export", str(run_dir), "--format", "acled")
    assert code == 0, output
    with Path(output.strip()).open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(events)
    assert {r["event_id_cnty"][3:] for r in rows} == {e["id"][4:] for e in events}


def test_a_second_merge_of_an_unchanged_run_merges_nothing_and_changes_no_byte(
    run_dir: Path,
) -> None:
    invoke("merge", str(run_dir))
    before = (run_dir / EVENTS).read_bytes()
    code, output = invoke("merge", str(run_dir))
    assert code == 0
    assert output.startswith("0 new incident(s)")
    assert (run_dir / EVENTS).read_bytes() == before


def test_the_acled_csv_has_exactly_the_readmes_documented_columns(run_dir: Path) -> None:
    invoke("merge", str(run_dir))
    invoke("export", str(run_dir), "--format", "acled")
    with (run_dir / "events-acled.csv").open(encoding="utf-8", newline="") as stream:
        header = next(csv.reader(stream))
    documented = re.findall(r"^\| `(\w+)` \| ", README.split("## Merging and exports")[1], re.M)
    assert header == documented == list(ACLED_COLUMNS)


def test_the_readme_says_why_each_empty_acled_column_is_empty(run_dir: Path) -> None:
    for column, reason in ACLED_EMPTY.items():
        assert f"| `{column}` | empty: {reason} |" in README
    invoke("merge", str(run_dir))
    invoke("export", str(run_dir), "--format", "acled")
    with (run_dir / "events-acled.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert all(row[column] == "" for row in rows for column in ACLED_EMPTY)
    intercepted = [r for r in rows if r["sub_event_type"] == "Disrupted weapons use"]
    assert intercepted
    assert {r["disorder_type"] for r in intercepted} == {"Strategic developments"}


@pytest.mark.parametrize(
    ("fmt", "name"), [("events-csv", "events.csv"), ("events-parquet", "events.parquet")]
)
def test_events_export_as_flat_tables_one_row_an_event(run_dir: Path, fmt: str, name: str) -> None:
    invoke("merge", str(run_dir))
    code, output = invoke("export", str(run_dir), "--format", fmt)
    assert code == 0, output
    events = len((run_dir / EVENTS).read_text("utf-8").splitlines())
    if name.endswith(".csv"):
        with (run_dir / name).open(encoding="utf-8", newline="") as stream:
            rows = list(csv.DictReader(stream))
        assert len(rows) == events
        assert "fatalities.best" in rows[0]
    else:
        import pyarrow.parquet as pq  # noqa: PLC0415

        assert pq.read_table(run_dir / name).num_rows == events


def test_exporting_events_before_merging_says_to_merge_first(tmp_path: Path) -> None:
    (tmp_path / "incidents.jsonl").write_text("", "utf-8")
    code, output = invoke("export", str(tmp_path), "--format", "acled")
    assert code == 2
    assert "run `sitrep merge" in output


def test_explaining_an_unknown_event_exits_2_naming_it(run_dir: Path) -> None:
    invoke("merge", str(run_dir))
    code, output = invoke("merge", str(run_dir), "--explain", "evt_nope")
    assert code == 2
    assert "no event 'evt_nope'" in output


def test_the_event_the_readme_explains_is_an_event_of_the_example_run(run_dir: Path) -> None:
    (named,) = re.findall(r"sitrep merge out --explain (evt_[0-9a-f]{16})", README)
    invoke("merge", str(run_dir))
    code, output = invoke("merge", str(run_dir), "--explain", named)
    assert code == 0, output
    assert "Ain al-Assad" in output
