"""Write the authored Batch API cassettes in `cassettes/batches/` (see cassettes/README.md).

Each is the openai SDK's exchange with the fake server (`sitrep.testing.fakeserver`) on
loopback, recorded by vcrpy: the upload of a .jsonl of three Chat Completions requests, the
batch's creation, polls at set moments of its run, and the download of its output and error
files. Every answer's arguments are the authored draft `cassettes/authored/mortar_strike.json`;
nothing in them is a model's output. Timestamps, ids and the multipart boundary change each time.

    python tests/author_batch_cassettes.py
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

from sitrep.testing.batches import BatchSettings
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings
from sitrep.wire.replay import recorder

ROOT = Path(__file__).resolve().parent.parent
DIRECTORY = ROOT / "cassettes" / "batches"
ARGUMENTS = (ROOT / "cassettes" / "authored" / "mortar_strike.json").read_text("utf-8")
DURATION = 3.0  # seconds a batch runs; the polls below are placed in it
ARTICLES = ("mortar-strike-1", "mortar-strike-2", "mortar-strike-3")


def request_line(custom_id: str) -> dict[str, Any]:
    tool = {
        "type": "function",
        "function": {"name": "extract_records", "parameters": {"type": "object"}},
    }
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Extract incidents and statistics as records."},
            {"role": "user", "content": f"Article {custom_id}: a mortar strike on a base."},
        ],
        "tools": [tool],
        "tool_choice": {"type": "function", "function": {"name": "extract_records"}},
    }
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


GOOD = "".join(json.dumps(request_line(custom_id)) + "\n" for custom_id in ARTICLES)
DUPLICATED = GOOD + json.dumps(request_line(ARTICLES[0])) + "\n"


def run(
    client: openai.OpenAI, content: str, polls: tuple[float, ...], cancel: float | None
) -> None:
    """Upload, create, poll at `polls` seconds after creation, cancel at `cancel`, download."""
    uploaded = client.files.create(file=("articles.jsonl", content.encode()), purpose="batch")
    began = time.monotonic()  # before the create: the polls are never later than planned
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"archive": "mortar-strike"},
    )
    for at in sorted((*polls, *(() if cancel is None else (cancel,)))):
        time.sleep(max(at - (time.monotonic() - began), 0))
        if at == cancel:
            client.batches.cancel(batch.id)
        else:
            batch = client.batches.retrieve(batch.id)
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id is not None:
            client.files.content(file_id).read()
    client.batches.list(limit=1)


Scenario = Callable[[openai.OpenAI], None]
SCENARIOS: dict[str, tuple[BatchSettings, Scenario]] = {
    "completed": (
        BatchSettings(duration=DURATION),
        lambda client: run(client, GOOD, (0.05, 1.5, 2.85, 3.2), None),
    ),
    "partly_failed": (
        BatchSettings(duration=DURATION, fail=ARTICLES[1].__eq__),
        lambda client: run(client, GOOD, (3.2,), None),
    ),
    "all_failed": (
        BatchSettings(duration=DURATION, failed_share=1.0),
        lambda client: run(client, GOOD, (3.2,), None),
    ),
    "invalid_input": (
        BatchSettings(duration=DURATION),
        lambda client: run(client, DUPLICATED, (0.5,), None),
    ),
    "expired": (
        BatchSettings(duration=DURATION, expire=True, expire_finished=0.34),
        lambda client: run(client, GOOD, (3.2,), None),
    ),
    "cancelled": (
        BatchSettings(duration=DURATION, cancel_duration=0.5),
        lambda client: run(client, GOOD, (1.7, 2.3), 1.5),
    ),
}


def author(name: str, batch: BatchSettings, scenario: Scenario) -> Path:
    path = DIRECTORY / f"{name}.yaml"
    path.unlink(missing_ok=True)
    settings = ServerSettings(answer=lambda _: ARGUMENTS, batch=batch)
    with FakeOpenAIServer(settings) as server, recorder("all").use_cassette(str(path)):
        scenario(openai.OpenAI(base_url=server.base_url, api_key="sk-authoring", max_retries=0))
    return path


def main() -> int:
    DIRECTORY.mkdir(parents=True, exist_ok=True)
    for name, (batch, scenario) in SCENARIOS.items():
        print(author(name, batch, scenario).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
