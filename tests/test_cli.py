"""The `sitrep` command: output, exit codes, messages, and documentation of every option."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from filelock import FileLock
from rich.console import Console

from conftest import CASSETTES, ROOT, SEED_FILES
from sitrep.cli import main
from sitrep.cli.display import NOT_READ_KINDS_SHOWN, ProgressDisplay, summary_table
from sitrep.extract.request import RequestBuilder
from sitrep.model.article import Article
from sitrep.run.scheduler import BatchProgress, BatchSummary
from sitrep.run.store import LOCK_NAME
from sitrep.settings import DEFAULT_MODEL, BatchOptions, ModelConfig, PromptProfile
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings
from synthetic import statistic_arguments, synthetic_text

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
        (bytes(range(1, 256)) * 20, "not UTF-8 (byte 0x80 at offset 127)"),
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


def test_run_over_the_example_archive_prints_the_summary_and_resumes(tmp_path: Path) -> None:
    archive = ROOT / "examples" / "archive"
    out = tmp_path / "out"
    args = ["run", str(archive), "--out", str(out), "--replay", str(CASSETTES / "archive")]
    code, stdout, _ = _invoke(*args)
    assert code == 0
    assert re.search(r"extracted\s+│\s+11\s+│\s+11", stdout)
    assert re.search(r"incidents\s+│\s+24", stdout)
    records = (out / "incidents.jsonl").read_text("utf-8").splitlines()
    assert len(records) == 24
    code, stdout, _ = _invoke(*args)  # the same command again resumes: nothing to do
    assert code == 0
    assert re.search(r"skipped \(done before\)\s+│\s+11", stdout)
    assert (out / "incidents.jsonl").read_text("utf-8").splitlines() == records


def test_run_into_a_directory_another_run_holds_exits_2_and_writes_nothing(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = ["run", str(ROOT / "examples" / "archive"), "--out", str(out)]
    args += ["--replay", str(CASSETTES / "archive")]
    with FileLock(out / LOCK_NAME):  # what another run holds while it writes there
        code, _, stderr = _invoke(*args)
    assert code == 2
    assert f"{out} is in use by another sitrep run" in stderr
    assert not (out / "incidents.jsonl").exists()
    code, _, _ = _invoke(*args)  # free again once the other run has ended
    assert code == 0


def test_run_whose_outputs_were_cut_short_exits_2_naming_the_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(ROOT / "examples" / "archive"), "--out", str(out)]
    args += ["--replay", str(CASSETTES / "archive")]
    assert _invoke(*args)[0] == 0
    (out / "incidents.jsonl").write_bytes(b"")  # emptied by hand, the ledger says otherwise
    code, _, stderr = _invoke(*args)
    assert code == 2
    assert f"{out / 'incidents.jsonl'} has 0 bytes but the ledger committed" in stderr
    assert "Traceback" not in stderr


def test_dry_run_prints_the_plan_and_writes_no_records(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _invoke(
        "run", str(ROOT / "examples" / "archive"), "--out", str(out), "--dry-run"
    )
    assert code == 0  # no key needed: nothing is sent
    assert re.search(r"articles to extract\s+│\s+11", stdout)
    assert "estimated cost" in stdout
    assert not (out / "incidents.jsonl").exists()


def test_max_cost_without_a_price_for_the_model_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = _invoke(
        "run",
        str(SEED_FILES["seed_000"]),
        "--out",
        str(tmp_path),
        "--model",
        "my-local-model",
        "--max-cost",
        "1",
        "--replay",
        str(CASSETTES / "seeds"),
    )
    assert code == 2
    assert "--max-cost needs a price for my-local-model" in err


def test_export_writes_csv_tables_of_a_runs_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _invoke(
        "run",
        *map(str, SEED_FILES.values()),
        "--out",
        str(out),
        "--replay",
        str(CASSETTES / "seeds"),
    )
    code, stdout, _ = _invoke("export", str(out))
    assert code == 0
    assert sorted(Path(p).name for p in stdout.split()) == [
        "failures.csv",
        "incidents.csv",
        "statistics.csv",
    ]
    assert len((out / "statistics.csv").read_text("utf-8").splitlines()) == 1 + 13


def test_ctrl_c_finishes_articles_in_flight_and_leaves_the_rest_pending(tmp_path: Path) -> None:
    archive = tmp_path / "archive.jsonl"
    archive.write_text(
        "".join(json.dumps({"text": synthetic_text(n)}) + "\n" for n in range(1, 101)),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    settings = ServerSettings(latency=0.05, answer=statistic_arguments)
    with FakeOpenAIServer(settings) as server:
        command = [
            sys.executable,
            "-m",
            "sitrep",
            "run",
            str(archive),
            "--out",
            str(out),
            "--base-url",
            server.base_url,
            "--concurrency",
            "4",
        ]
        env = {**os.environ, "OPENAI_API_KEY": "test-key-never-sent"}
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        while server.stats().ok < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
        answered = server.stats().ok
        with sqlite3.connect(out / "ledger.sqlite") as db:
            done = db.execute("SELECT count(*) FROM articles WHERE status = 'done'").fetchone()[0]
        resumed = subprocess.run(command, env=env, capture_output=True, timeout=60, check=False)
    assert process.returncode == 4
    assert "stopping; finishing the articles in flight" in stderr
    assert "stopped early (stopped)" in stdout
    assert done == answered  # every request answered was committed, none abandoned
    assert 10 <= done < 100
    assert resumed.returncode == 0
    lines = (out / "statistics.jsonl").read_text("utf-8").splitlines()
    assert (
        len(lines) == len({json.loads(line)["provenance"]["article_id"] for line in lines}) == 100
    )


def test_ci_runs_exactly_the_readmes_first_two_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
    first_two = [block.strip() for block in blocks[:2]]
    assert first_two[0].startswith("python3 -m venv")
    assert "sitrep run" in first_two[0]
    assert first_two[1].endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    assert all(command in ci for command in first_two)


@pytest.mark.parametrize("command", ["extract", "run"])
def test_option_defaults_are_the_settings_defaults(command: str) -> None:
    """The command line repeats no default: each comes from the settings objects."""
    assert isinstance(main, click.Group)
    options = {p.name: p.default for p in main.commands[command].params}
    model = ModelConfig(model=DEFAULT_MODEL)
    assert options["model"] == DEFAULT_MODEL == model.model
    assert options["base_url"] == model.base_url
    assert options["mode"] == model.mode.value
    assert options["reask_budget"] == model.reask_budget
    assert options["max_article_chars"] == model.max_article_chars
    assert options["chunk_chars"] == model.chunk_chars
    assert options["chunk_overlap"] == model.chunk_overlap
    if command == "run":
        assert options["concurrency"] == BatchOptions().concurrency


def test_extract_from_a_server_other_than_openai_needs_no_key_and_sends_its_cap_field() -> None:
    bodies: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> str:
        bodies.append(body)
        return json.dumps({"incidents": [], "statistics": []})

    with FakeOpenAIServer(ServerSettings(answer=answer)) as server:
        code, out, err = _invoke(
            "extract",
            str(SEED_FILES["seed_000"]),
            "--base-url",
            server.base_url,
            "--model",
            "local-model",
            "--max-output-tokens",
            "300",
        )
    assert code == 0, err
    assert json.loads(out)["incidents"] == []
    (body,) = bodies
    assert body["max_tokens"] == 300
    assert "max_completion_tokens" not in body


def test_dry_run_counts_the_requests_of_an_article_too_long_for_the_context_window(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "short.txt").write_text("date 2024-07-17\nA rocket hit a base on Monday.\n")
    (archive / "long.txt").write_text("date 2024-07-17\n" + "A rocket hit a base. " * 600)
    window = [
        "--prompt-profile",
        "compact",
        "--context-window",
        "5000",
        "--max-output-tokens",
        "500",
    ]
    code, stdout, err = _invoke(
        "run",
        str(archive),
        "--out",
        str(tmp_path / "out"),
        "--dry-run",
        "--model",
        "local-model",
        *window,
    )
    assert code == 0, err
    config = ModelConfig(
        model="local-model",
        prompt_profile=PromptProfile.COMPACT,
        context_window=5000,
        max_output_tokens=500,
    )
    chunks = RequestBuilder(config).chunks(Article.from_file(archive / "long.txt"))
    assert len(chunks) >= 3  # 12,600 characters, some 4,600 a request in this window
    assert re.search(r"articles to extract\s+│\s+2\b", stdout)
    assert re.search(rf"requests to send\s+│\s+{len(chunks) + 1}\b", stdout)
    assert re.search(r"articles sent in chunks\s+│\s+1\b", stdout)
    assert re.search(r"too long for the context window\s+│\s+0\b", stdout)


def test_the_chunk_options_decide_the_requests_the_dry_run_counts(tmp_path: Path) -> None:
    article = tmp_path / "long.txt"
    article.write_text("date 2024-07-17\n" + "A rocket hit a base on Monday. " * 380)  # 11,780
    out = ["--out", str(tmp_path / "out"), "--dry-run", "--chunk-chars", "6000"]
    code, stdout, err = _invoke("run", str(article), *out)
    assert code == 0, err
    assert re.search(r"requests to send\s+│\s+3\b", stdout)  # sharing up to 1,500 each
    code, stdout, err = _invoke("run", str(article), *out, "--chunk-overlap", "0")
    assert code == 0, err
    assert re.search(r"requests to send\s+│\s+2\b", stdout)  # end to end
    code, _, err = _invoke("run", str(article), *out, "--chunk-chars", "999")
    assert code == 2
    assert "999 is not in the range x>=1000" in err


def test_dry_run_with_a_window_too_small_for_the_prompt_itself_exits_2(tmp_path: Path) -> None:
    code, _, err = _invoke(
        "run",
        str(SEED_FILES["seed_000"]),
        "--out",
        str(tmp_path / "out"),
        "--dry-run",
        "--context-window",
        "3000",
        "--max-output-tokens",
        "500",
    )
    assert code == 2
    assert "before any article" in err
    assert "context window of 3,000 tokens" in err


def test_run_with_a_window_too_small_for_the_prompt_exits_2_before_sending(tmp_path: Path) -> None:
    code, _, err = _invoke(
        "run",
        str(SEED_FILES["seed_000"]),
        "--out",
        str(tmp_path / "out"),
        "--context-window",
        "3000",
        "--max-output-tokens",
        "500",
        "--replay",
        str(CASSETTES / "seeds"),
    )
    assert code == 2
    assert "before any article" in err
    assert "Traceback" not in err


def archive_with_files_not_read(root: Path) -> Path:
    archive = root / "archive"
    shutil.copytree(ROOT / "examples" / "archive", archive)
    (archive / "scans").mkdir()
    for n in range(2):
        (archive / "scans" / f"{n}.pdf").write_bytes(b"%PDF-1.7")
    (archive / "LICENSE").write_text("terms", "utf-8")
    return archive


def test_run_summary_counts_files_not_read_by_type_and_a_resume_counts_them_once(
    tmp_path: Path,
) -> None:
    archive = archive_with_files_not_read(tmp_path)
    out = tmp_path / "out"
    args = ["run", str(archive), "--out", str(out), "--replay", str(CASSETTES / "archive")]
    for _ in range(2):  # the second run resumes: nothing to extract, the same files not read
        code, stdout, _ = _invoke(*args)
        assert code == 0  # files not read are no failures
        assert re.search(r"not read \(by type, not failed\)\s+│\s+3\s+│\s+3", stdout)
        assert re.search(r"  \.pdf files\s+│\s+2\s+│\s+2", stdout)
        assert re.search(r"  files with no suffix\s+│\s+1\s+│\s+1", stdout)
        assert re.search(r"failed \(see failures.jsonl\)\s+│\s+0\s+│\s+0", stdout)
    assert (out / "failures.jsonl").read_text("utf-8") == ""


def test_dry_run_shows_the_files_it_would_not_read(tmp_path: Path) -> None:
    archive = archive_with_files_not_read(tmp_path)
    code, stdout, _ = _invoke("run", str(archive), "--out", str(tmp_path / "out"), "--dry-run")
    assert code == 0
    assert re.search(r"articles to extract\s+│\s+11", stdout)
    assert re.search(r"  \.pdf files\s+│\s+2", stdout)
    assert re.search(r"  files with no suffix\s+│\s+1", stdout)


def test_summary_names_the_most_common_kinds_not_read_and_sums_the_rest(tmp_path: Path) -> None:
    kinds = {f".x{n} files": 20 - n for n in range(NOT_READ_KINDS_SHOWN + 3)}
    summary = BatchSummary(
        run=BatchProgress(),
        done=0,
        failed=0,
        pending=0,
        stopped=None,
        output_dir=tmp_path,
        not_read=kinds,
        not_read_all_runs=kinds,
    )
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(summary_table(summary))
    shown = console.export_text()
    total = sum(kinds.values())
    assert re.search(rf"not read \(by type, not failed\)\s+│\s+{total}\s+│\s+{total}", shown)
    assert re.search(r"  \.x0 files\s+│\s+20\s+│\s+20", shown)
    assert f".x{NOT_READ_KINDS_SHOWN - 1} files" in shown
    assert f".x{NOT_READ_KINDS_SHOWN} files" not in shown
    rest = sum(20 - n for n in range(NOT_READ_KINDS_SHOWN, NOT_READ_KINDS_SHOWN + 3))
    assert re.search(rf"  3 other kinds\s+│\s+{rest}\s+│\s+{rest}", shown)


def test_progress_counts_inputs_not_read_toward_the_total_count_inputs_gives() -> None:
    stream = io.StringIO()
    with ProgressDisplay(total=5, stream=stream, interval=0.0) as display:
        display.update(BatchProgress(extracted=1, failed=1, not_read=3, elapsed=1.0))
    assert stream.getvalue().startswith("sitrep: 5/5 inputs, 2.0/s, ETA 0 s")


def test_progress_lines_say_how_many_articles_are_in_flight() -> None:
    stream = io.StringIO()
    with ProgressDisplay(total=5, stream=stream, interval=0.0) as display:
        display.update(BatchProgress(in_flight=4, elapsed=1.0))
    assert stream.getvalue().rstrip().endswith("4 in flight")


def test_the_dry_run_of_web_pages_is_the_same_with_one_read_worker_or_two(tmp_path: Path) -> None:
    pages = ROOT / "tests" / "data" / "pages"
    plans = []
    for workers in ("1", "2"):
        out = str(tmp_path / f"out-{workers}")
        code, stdout, _ = _invoke(
            "run", str(pages), "--out", out, "--dry-run", "--read-workers", workers
        )
        assert code == 0
        plans.append(stdout.replace(out, "OUT"))
    assert plans[0] == plans[1]
    assert re.search(r"articles to extract\s+│\s+6", plans[0])


def test_read_workers_below_one_is_refused(tmp_path: Path) -> None:
    code, _, stderr = _invoke(
        "run", str(tmp_path), "--out", str(tmp_path / "out"), "--read-workers", "0"
    )
    assert code == 2
    assert "--read-workers" in stderr
