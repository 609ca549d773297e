"""sitrep's command line against a real model: SmolLM2-135M-Instruct served by llama-cpp-python.

A 135M model rarely writes a draft that passes every check, so these tests promise what a real
run can: the command ends as documented (an extraction, or a failure that names the model's
fault), never with a traceback, a usage error or a request the server refused; every article
ends done or failed with its reason; every call is logged with the server's real usage; and the
requests carry the output cap in the field such servers read.

    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install '.[live]' && pytest -m live
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import httpx2
import pytest

from sitrep.extract.request import RequestBuilder
from sitrep.run.ledger import LEDGER_NAME
from sitrep.run.readers import read_archives
from sitrep.settings import ModelConfig, OutputMode, PromptProfile
from sitrep.testing.localmodel import (
    LocalModelError,
    LocalModelServer,
    LocalModelSettings,
)
from sitrep.wire.calls import encode_request, request_hash

from .conftest import N_CTX, LiveServer

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = ROOT / "examples" / "archive"
SEED = ARCHIVE / "000_cd36c9e7819bf95c.txt"
# The shortest articles of the example archive: the tier stays within minutes on two cores.
SHORT_ARTICLES = (
    "006_kirkuk_drone_correction.txt",
    "008_afghanistan_quarterly_figures.txt",
    "010_konduga_market_bombing.txt",
)
MAX_OUTPUT_TOKENS = 256
CHAT_PATH = "/v1/chat/completions"
# The failures a model's answers can cause; anything else (a refused request, a transport
# fault, an overflow of the context) is sitrep or the setup at fault.
MODEL_FAILURES = {"InvalidOutputError", "TruncatedOutputError", "RefusalError"}
MODEL_FAILURE_REASONS = (
    "output still invalid after",
    "output invalid (",
    "the answer was cut off",
    "the answer used all",
    "the model refused",
)


def model_options(server: LiveServer) -> list[str]:
    return [
        "--base-url",
        server.base_url,
        "--model",
        server.model,
        "--mode",
        "json_object",
        "--prompt-profile",
        "compact",
        "--max-output-tokens",
        str(MAX_OUTPUT_TOKENS),
        "--timeout",
        "600",
        "--context-window",
        str(N_CTX),
    ]


def sitrep(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The installed command line, with no key in its environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [sys.executable, "-m", "sitrep", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=800,
        check=False,
    )


def config_of(server: LiveServer) -> ModelConfig:
    """The settings `model_options` gives the command line."""
    return ModelConfig(
        model=server.model,
        base_url=server.base_url,
        mode=OutputMode.JSON_OBJECT,
        prompt_profile=PromptProfile.COMPACT,
        max_output_tokens=MAX_OUTPUT_TOKENS,
        context_window=N_CTX,
        request_timeout=600,
    )


def test_extract_ends_in_records_or_a_failure_the_model_caused(live_server: LiveServer) -> None:
    offset = live_server.log_size()
    result = sitrep("extract", str(SEED), *model_options(live_server))

    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1), result.stderr
    if result.returncode == 0:
        extraction = json.loads(result.stdout)
        assert set(extraction) >= {"incidents", "statistics"}
        assert extraction["provenance"]["model"] == live_server.model
    else:
        assert result.stderr.startswith(f"sitrep: error: {SEED}: "), result.stderr
        assert any(reason in result.stderr for reason in MODEL_FAILURE_REASONS), result.stderr
    statuses = live_server.statuses_since(offset)
    assert 1 <= len(statuses) <= 3  # the first answer and at most two re-asks
    assert set(statuses) == {200}


@pytest.fixture(scope="module")
def batch(
    live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path, Path, list[int]]:
    """`sitrep run` over three short articles, once for every test that reads its results."""
    archive = tmp_path_factory.mktemp("archive")
    for name in SHORT_ARTICLES:
        shutil.copy(ARCHIVE / name, archive / name)
    out = tmp_path_factory.mktemp("run")
    offset = live_server.log_size()
    result = sitrep("run", str(archive), "--out", str(out), *model_options(live_server))
    return result, archive, out, live_server.statuses_since(offset)


def _rows(out: Path, sql: str) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(out / LEDGER_NAME)) as db:
        db.row_factory = sqlite3.Row
        return list(db.execute(sql))


def test_run_ends_every_article_done_or_failed_for_a_model_reason(
    batch: tuple[subprocess.CompletedProcess[str], Path, Path, list[int]],
) -> None:
    result, _, out, _ = batch
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr

    articles = _rows(out, "SELECT id, status, error_kind, error FROM articles")
    assert len(articles) == len(SHORT_ARTICLES)
    assert {row["status"] for row in articles} <= {"done", "failed"}
    failed = {row["id"]: row for row in articles if row["status"] == "failed"}
    assert {row["error_kind"] for row in failed.values()} <= MODEL_FAILURES
    lines = (out / "failures.jsonl").read_text("utf-8").splitlines()
    listed = {entry["article_id"]: entry for entry in map(json.loads, lines)}
    assert set(listed) == set(failed)
    for article_id, entry in listed.items():
        assert entry["reason"] == failed[article_id]["error"]
        assert any(reason in entry["reason"] for reason in MODEL_FAILURE_REASONS), entry


def test_run_logs_every_call_with_status_200_and_the_servers_usage(
    batch: tuple[subprocess.CompletedProcess[str], Path, Path, list[int]],
) -> None:
    _, _, out, statuses = batch
    calls = _rows(out, "SELECT article_id, status, prompt_tokens, completion_tokens FROM calls")
    per_article = {row["article_id"] for row in calls}
    assert len(per_article) == len(SHORT_ARTICLES)
    assert len(calls) <= 3 * len(SHORT_ARTICLES)  # each article: an answer and two re-asks
    assert {row["status"] for row in calls} == {200}
    assert all(row["prompt_tokens"] > 0 for row in calls)
    # The server honours the cap only in max_tokens; had it been sent in another field, the
    # answers would run on to the end of the context.
    assert all(0 < row["completion_tokens"] <= MAX_OUTPUT_TOKENS for row in calls)
    # The server's own log: one answered request per logged call, none refused.
    assert statuses == [200] * len(calls)


def test_each_re_ask_reaches_the_model_with_its_answer_and_the_correction(
    batch: tuple[subprocess.CompletedProcess[str], Path, Path, list[int]],
) -> None:
    """The server counts what its chat template rendered: a re-ask's prompt is the previous one
    plus the answer and the correction, so it grows by more than the answer. Had the correction
    gone in a message the template drops, it would grow by the answer alone."""
    _, _, out, _ = batch
    calls = _rows(out, "SELECT article_id, prompt_tokens, completion_tokens FROM calls ORDER BY id")
    reasks = 0
    for article_id in {row["article_id"] for row in calls}:
        mine = [row for row in calls if row["article_id"] == article_id]
        for before, after in itertools.pairwise(mine):
            grown = after["prompt_tokens"] - before["prompt_tokens"]
            assert grown >= before["completion_tokens"] + 20, (article_id, before, after)
            reasks += 1
    if reasks == 0:
        pytest.skip("no article was re-asked in this run")


def test_run_sends_the_cap_as_max_tokens(
    live_server: LiveServer,
    batch: tuple[subprocess.CompletedProcess[str], Path, Path, list[int]],
) -> None:
    """The first request of each article is the body sitrep builds for it, byte for byte, and
    that body carries `max_tokens`, never `max_completion_tokens`."""
    _, archive, out, _ = batch
    builder = RequestBuilder(config_of(live_server))
    first: dict[str, str] = {}
    for row in _rows(out, "SELECT article_id, request_hash FROM calls ORDER BY id"):
        first.setdefault(row["article_id"], row["request_hash"])
    articles = [item.article for item in read_archives([archive]) if item.article is not None]
    assert len(articles) == len(SHORT_ARTICLES)
    for article in articles:
        body = builder.build(article)
        assert body["max_tokens"] == MAX_OUTPUT_TOKENS
        assert "max_completion_tokens" not in body
        assert first[article.id] == request_hash("POST", CHAT_PATH, encode_request(body))


def test_the_launcher_reports_a_server_that_cannot_start_with_its_output(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """Skipped with the rest of the tier (through `live_server`) without llama-cpp-python."""
    not_a_model = tmp_path / "not-a-model.gguf"
    not_a_model.write_bytes(b"this is not a GGUF file")
    settings = LocalModelSettings(model_path=not_a_model, startup_timeout=60)
    with pytest.raises(LocalModelError, match="exited with status") as raised:
        LocalModelServer(settings).start()
    assert str(not_a_model) in str(raised.value)  # the server's own words, from its output


def test_the_command_line_prints_the_url_serves_and_stops_on_ctrl_c(
    live_server: LiveServer,
) -> None:
    command = [sys.executable, "-m", "sitrep.testing.localmodel", "--n-ctx", "512"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        models = httpx2.get(f"{base_url}/models", timeout=30).json()
        assert [model["id"] for model in models["data"]] == ["smollm2-135m"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        with pytest.raises(httpx2.TransportError):
            httpx2.get(f"{base_url}/models", timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
