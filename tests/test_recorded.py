"""Recordings of a real endpoint replay to what was recorded.

Every directory under cassettes/recorded/ with a manifest (written by tests/record_cassettes.py)
is replayed with `sitrep run --replay` and the manifest's options. A recording promises that the
same requests get the same answers, so: every article ends done or failed, as it did when
recorded; every recorded interaction is played, none is missing; the records name the model
recorded. What the model answered is not asserted: that is the model's skill, not sitrep's.
The recorder itself is tested against the fake server.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import CASSETTES, ROOT
from record_cassettes import MANIFEST, interactions, run_options
from record_cassettes import main as record_main
from sitrep.cli import main
from sitrep.run.ledger import LEDGER_NAME
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings

RECORDED = CASSETTES / "recorded"
DIRECTORIES = sorted(path.parent for path in RECORDED.glob(f"*/{MANIFEST}"))
RECORD_COMMAND = (
    "python tests/record_cassettes.py --base-url URL --model MODEL --out cassettes/recorded/MODEL"
)


def replay_problems(directory: Path, out: Path) -> list[str]:
    """Replay `directory` into `out`; every way the replay differs from its manifest."""
    manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text("utf-8"))
    articles = manifest["articles"]
    files = [str(ROOT / article["file"]) for article in articles]
    arguments = ["run", *files, "--out", str(out), "--replay", str(directory)]
    result = CliRunner().invoke(main, [*arguments, *run_options(manifest)])
    if result.exit_code != 0:
        return [f"sitrep run exited {result.exit_code}: {result.output}{result.exception!r}"]
    with closing(sqlite3.connect(out / LEDGER_NAME)) as db:
        ended = {
            row[0]: row[1:] for row in db.execute("SELECT id, status, error_kind FROM articles")
        }
        calls = Counter(row[0] for row in db.execute("SELECT article_id FROM calls"))
        models = {row[0] for row in db.execute("SELECT model FROM articles")}
    problems = []
    for article in articles:
        recorded = (article["outcome"], article["error_kind"])
        replayed = ended.get(article["article_id"])
        if article["article_id"] is not None and replayed != recorded:
            problems.append(f"{article['file']}: recorded {recorded}, replayed {replayed}")
        cassette = directory / article["cassette"] if article["cassette"] else None
        held = interactions(cassette) if cassette else 0
        played = calls[article["article_id"]]
        if not held == played == article["interactions"]:
            problems.append(
                f"{article['file']}: the manifest lists {article['interactions']} interactions, "
                f"the cassette holds {held}, the replay played {played}"
            )
    if not models <= {manifest["model"]}:
        problems.append(f"the ledger names models {models}, not {manifest['model']}")
    for name in ("incidents.jsonl", "statistics.jsonl"):
        for line in (out / name).read_text("utf-8").splitlines():
            model = json.loads(line)["provenance"]["model"]
            if model != manifest["model"]:
                problems.append(f"{name}: a record's provenance.model is {model}")
    return problems


@pytest.mark.parametrize(
    "directory", DIRECTORIES or [None], ids=lambda d: d.name if d else "none-recorded"
)
def test_a_recording_replays_to_the_outcomes_of_its_manifest(
    directory: Path | None, tmp_path: Path
) -> None:
    if directory is None:
        pytest.skip(f"nothing recorded under {RECORDED.relative_to(ROOT)}/ yet: {RECORD_COMMAND}")
    assert replay_problems(directory, tmp_path / "out") == []


def _answer(body: dict[str, Any]) -> str:
    """Valid and empty for every article but the Konduga one, which gets a wrong shape."""
    text = json.dumps(body["messages"])
    return '{"incidents": "none"}' if "Konduga" in text else '{"incidents": [], "statistics": []}'


ARTICLES = [
    ROOT / "examples" / "archive" / "007_muscat_taiz_talks.txt",
    ROOT / "examples" / "archive" / "010_konduga_market_bombing.txt",
]
KEY = "sk-recording-key-0123456789abcdef"


@pytest.fixture
def recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """Two articles recorded from the fake server, with a key in the environment."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = tmp_path / "recorded"
    with FakeOpenAIServer(ServerSettings(answer=_answer)) as server:
        arguments = ["--base-url", server.base_url, "--model", "fake-model", "--out", str(out)]
        arguments += ["--mode", "json_object", "--max-output-tokens", "512"]
        assert record_main([*arguments, "--articles", *map(str, ARTICLES)]) == 0
    return out, server.base_url


def test_the_recorder_writes_a_cassette_per_article_and_a_manifest(
    recording: tuple[Path, str],
) -> None:
    out, base_url = recording
    manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    assert manifest["model"] == "fake-model"
    assert manifest["base_url"] == "http://127.0.0.1/v1"  # no port
    assert base_url != manifest["base_url"]
    assert manifest["options"]["output-cap-field"] == "max_tokens"  # resolved, not "auto"
    outcomes = [(a["cassette"], a["outcome"], a["error_kind"]) for a in manifest["articles"]]
    assert outcomes == [
        ("007_muscat_taiz_talks.yaml", "done", None),
        ("010_konduga_market_bombing.yaml", "failed", "InvalidOutputError"),
    ]
    # The failed article was asked again: its first answer and both re-asks are recorded.
    assert [a["interactions"] for a in manifest["articles"]] == [1, 3]
    assert sorted(path.name for path in out.glob("*.yaml")) == [o[0] for o in outcomes]


def test_the_recorder_writes_no_credential(recording: tuple[Path, str]) -> None:
    out, _ = recording
    for cassette in out.glob("*.yaml"):
        text = cassette.read_text("utf-8")
        assert KEY not in text
        assert "authorization" not in text.lower()


def test_a_fresh_recording_replays_to_its_manifest(
    recording: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = recording
    assert replay_problems(out, tmp_path / "replayed") == []


def test_a_replay_that_differs_from_its_manifest_is_reported(
    recording: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = recording
    path = out / MANIFEST
    manifest = json.loads(path.read_text("utf-8"))
    manifest["articles"][1].update(outcome="done", error_kind=None, interactions=1)
    path.write_text(json.dumps(manifest), "utf-8")
    problems = replay_problems(out, tmp_path / "replayed")
    assert len(problems) == 2
    assert "recorded ('done', None), replayed ('failed', 'InvalidOutputError')" in problems[0]
    assert "the manifest lists 1 interactions, the cassette holds 3" in problems[1]
