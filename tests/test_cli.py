"""The `sitrep` command: output, exit codes, messages, and documentation of every option."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import CASSETTES, ROOT, SEED_FILES
from sitrep.cli import main

README = (ROOT / "README.md").read_text("utf-8")


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_extract_with_replay_prints_the_records_as_json() -> None:
    code, out, _ = _invoke(
        "extract", str(SEED_FILES["seed_001"]), "--replay", str(CASSETTES / "seeds")
    )
    assert code == 0
    result = json.loads(out)
    main_incident = next(i for i in result["incidents"] if i["salience"] == "main")
    assert main_incident["when"]["start"] == "2024-07-16"
    assert main_incident["munitions"] == {
        "weapon": "drone",
        "launched": 2,
        "intercepted": 1,
        "impacted": 1,
    }
    assert len(result["statistics"]) == 10


def test_extract_without_a_key_or_replay_exits_2_naming_the_variable() -> None:
    code, out, err = _invoke("extract", str(SEED_FILES["seed_000"]))
    assert code == 2
    assert out == ""
    assert "OPENAI_API_KEY is not set" in err
    assert "--replay" in err


def test_changed_publication_date_finds_no_recording_and_exits_1() -> None:
    """A changed request never replays a stale answer."""
    code, _, err = _invoke(
        "extract",
        str(SEED_FILES["seed_001"]),
        "--published",
        "2024-07-18",
        "--replay",
        str(CASSETTES / "seeds"),
    )
    assert code == 1
    assert "no recorded response" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n\t", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b"caf\xe9 attack", "not UTF-8"),
    ],
)
def test_unusable_article_exits_3_with_a_specific_reason(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(content)
    code, _, err = _invoke("extract", str(path), "--replay", str(CASSETTES / "seeds"))
    assert code == 3
    assert message in err
    assert str(path) in err


def test_replay_directory_without_cassettes_exits_2(tmp_path: Path) -> None:
    code, _, err = _invoke("extract", str(SEED_FILES["seed_000"]), "--replay", str(tmp_path))
    assert code == 2
    assert "holds no .yaml cassettes" in err


def test_schemas_command_writes_one_file_per_record_model(tmp_path: Path) -> None:
    code, out, _ = _invoke("schemas", str(tmp_path / "out"))
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(Path(line).name for line in out.split())
    assert "incident.schema.json" in written


def test_module_entry_point_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sitrep", "--version"], capture_output=True, text=True, check=True
    )
    assert re.fullmatch(r"sitrep, version \d+\.\d+\.\d+\n", done.stdout)


def _commands() -> dict[str, click.Command]:
    assert isinstance(main, click.Group)
    return dict(main.commands)


def test_every_command_is_documented_in_the_readme() -> None:
    for name in _commands():
        assert f"sitrep {name}" in README, name


def test_every_option_of_every_command_is_documented_in_the_readme() -> None:
    for name, command in _commands().items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert any(opt in README for opt in param.opts), f"{name} {param.opts}"
