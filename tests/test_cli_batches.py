"""`sitrep run --batch-api` and `sitrep batches DIR` on the command line, against the fake
server answering as the example archive's cassettes do: output, exit codes and refusals."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from conftest import CASSETTES, ROOT
from sitrep.cli import main
from sitrep.testing.batches import BatchSettings
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings
from sitrep.testing.recorded import answers_from_cassettes

ARCHIVE = ROOT / "examples" / "archive"
# The request shape the example's cassettes were recorded with (OpenAI's own endpoint's).
SHAPE = ("--output-cap-field", "max_completion_tokens", "--reask-as", "tool")
KEY = {"OPENAI_API_KEY": "unused-by-the-fake-server"}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    settings = ServerSettings(
        answer=answers_from_cassettes(CASSETTES / "archive"), batch=BatchSettings(duration=0.3)
    )
    with FakeOpenAIServer(settings) as fake:
        yield fake


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=KEY)
    return result.exit_code, result.stdout, result.stderr


def _run(server: FakeOpenAIServer, out: Path, *more: str) -> tuple[int, str, str]:
    return _invoke(
        "run",
        str(ARCHIVE),
        "--out",
        str(out),
        "--base-url",
        server.base_url,
        *SHAPE,
        "--batch-api",
        "--batch-poll",
        "0.05",
        "--read-workers",
        "1",
        *more,
    )


def _records(directory: Path, name: str) -> list[str]:
    lines = (directory / name).read_text("utf-8").splitlines()
    return sorted(
        json.dumps({k: v for k, v in json.loads(line).items() if k != "provenance"})
        for line in lines
    )


def test_run_with_batch_api_extracts_the_archive_as_the_replayed_run_does(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    code, out, _ = _run(server, tmp_path / "batch")
    assert code == 0
    assert re.search(r"extracted\s+│\s+11\s+│\s+11", out)
    assert re.search(r"batch files collected\s+│\s+1\b", out)
    assert re.search(r"requests in batches not yet collected\s+│\s+0\b", out)
    replayed = tmp_path / "replayed"
    args = ["run", str(ARCHIVE), "--out", str(replayed), "--replay", str(CASSETTES / "archive")]
    assert _invoke(*args)[0] == 0
    for name in ("incidents.jsonl", "statistics.jsonl"):
        assert _records(tmp_path / "batch", name) == _records(replayed, name)


def test_no_wait_exits_4_and_batches_wait_collects_for_the_next_run(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    code, out, _ = _run(server, out_dir, "--no-wait")
    assert code == 4
    assert re.search(r"batch files submitted\s+│\s+1\b", out)
    assert re.search(r"requests in batches not yet collected\s+│\s+11\b", out)
    assert not (out_dir / "incidents.jsonl").read_text("utf-8")

    code, out, _ = _invoke("batches", str(out_dir), "--base-url", server.base_url)
    assert code == 0
    assert re.search(r"│\s+1\s+│\s+submitted\s+│\s+batch_fake\w+", out)

    wait = ("batches", str(out_dir), "--base-url", server.base_url, "--wait")
    code, out, _ = _invoke(*wait, "--batch-poll", "0.05")
    assert code == 0
    assert re.search(r"│\s+1\s+│\s+collected\s+│.*│\s+completed\s+│\s+11\s+│\s+11\s+│\s+0\s+│", out)

    code, out, _ = _run(server, out_dir)  # the answers are in the ledger: nothing is sent
    assert code == 0
    assert re.search(r"extracted\s+│\s+11\s+│\s+11", out)
    assert re.search(r"requests submitted by this run\s+│\s+0\b", out)


def test_batches_cancel_cancels_the_open_batch_and_keeps_what_it_finished(
    tmp_path: Path,
) -> None:
    settings = ServerSettings(
        answer=answers_from_cassettes(CASSETTES / "archive"),
        batch=BatchSettings(duration=30.0, cancel_duration=0.1),
    )
    out_dir = tmp_path / "out"
    with FakeOpenAIServer(settings) as server:
        assert _run(server, out_dir, "--no-wait")[0] == 4
        cancel = ("batches", str(out_dir), "--base-url", server.base_url, "--cancel")
        code, out, _ = _invoke(*cancel, "--batch-poll", "0.05")
        assert code == 0
        assert re.search(r"collected\s+│.*│\s+cancelled\s+│", out)
        batches = httpx2.get(f"{server.base_url}/batches").json()["data"]
    assert [b["status"] for b in batches] == ["cancelled"]


def test_batch_api_refuses_replay_with_the_reason(tmp_path: Path) -> None:
    base = ("run", str(ARCHIVE), "--out", str(tmp_path / "out"), "--batch-api")
    code, _, err = _invoke(*base, "--replay", str(CASSETTES / "archive"))
    assert code == 2
    assert "cannot replay cassettes" in err


def test_batches_refuses_a_directory_with_no_run_and_both_actions(tmp_path: Path) -> None:
    code, _, err = _invoke("batches", str(tmp_path))
    assert code == 2
    assert "holds no sitrep run" in err
    code, _, err = _invoke("batches", str(tmp_path), "--wait", "--cancel")
    assert code == 2
    assert "not both" in err


def test_batch_api_without_a_key_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", str(ARCHIVE), "--out", str(tmp_path / "out"), "--batch-api"], env={}
    )
    assert result.exit_code == 2
    assert "OPENAI_API_KEY" in result.stderr


def test_the_fake_server_command_answers_from_cassettes() -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sitrep.testing.fakeserver",
            "--answers-from",
            str(CASSETTES / "archive"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        recorded = next((CASSETTES / "archive").glob("*.yaml"))
        requests, responses = deserialize(recorded.read_text("utf-8"), yamlserializer)[:2]
        body = json.loads(requests[0].body)
        want = json.loads(responses[0]["body"]["string"])["choices"][0]["message"]
        answer = httpx2.post(f"{base_url}/chat/completions", json=body, timeout=10)
        got = answer.json()["choices"][0]["message"]
        assert (
            got["tool_calls"][0]["function"]["arguments"]
            == (want["tool_calls"][0]["function"]["arguments"])
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_an_interactive_run_refuses_a_directory_with_batches_not_collected(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    assert _run(server, out_dir, "--no-wait")[0] == 4
    interactive = ("run", str(ARCHIVE), "--out", str(out_dir), "--base-url", server.base_url)
    code, _, err = _invoke(*interactive, *SHAPE, "--read-workers", "1")
    assert code == 2
    assert "11 requests in Batch API batches not yet collected" in err
    assert server.stats().requests == 0  # no chat completion was sent
