"""Write the authored cassettes in `cassettes/` (see cassettes/README.md).

No model is reachable where sitrep is developed, so these cassettes hold responses written by
hand: the draft arguments in `cassettes/authored/*.json`, wrapped here in the exact OpenAI Chat
Completions wire format (ids, usage, headers and all) and served by a local mock transport while
vcrpy records the real requests sitrep sends. They test the pipeline, never a model's skill.

Run after changing a prompt, a schema or the request (the cassettes match on the body):

    python tests/author_cassettes.py

Token counts in the authored usage blocks are estimates (four characters a token).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx2

from sitrep.errors import SitrepError
from sitrep.extract.extractor import Extractor
from sitrep.extract.prompts import TOOL_NAME
from sitrep.model.article import Article
from sitrep.settings import ModelConfig, OutputMode
from sitrep.testing import completions as wire
from sitrep.wire.replay import recorder

ROOT = Path(__file__).resolve().parent.parent
AUTHORED = ROOT / "cassettes" / "authored"
SEEDS = ROOT / "examples" / "archive"
FAULT_ARTICLE = ROOT / "tests" / "articles" / "mortar_strike.txt"
MODEL = "gpt-4.1-mini"
MODEL_VERSION = "gpt-4.1-mini-2025-04-14"  # what OpenAI reports back for the alias
CREATED = 1_735_689_600  # 2025-01-01T00:00:00Z, fixed so re-authoring changes nothing

Reply = Callable[[httpx2.Request, str], httpx2.Response]


def _completion(
    request: httpx2.Request,
    reply_id: str,
    message: dict[str, Any],
    finish_reason: str,
    completion_tokens: int | None = None,
) -> httpx2.Response:
    size = len(json.dumps(message))
    prompt, completion = len(request.content) // 4, completion_tokens or max(size // 4, 1)
    body = wire.chat_completion(
        completion_id=f"chatcmpl-authored-{reply_id}",
        model=MODEL_VERSION,
        created=CREATED,
        answer=message,
        finish_reason=finish_reason,
        token_usage=wire.usage(prompt, completion),
        service_tier="default",
    )
    return httpx2.Response(
        200,
        json=body,
        headers={"x-request-id": f"req_authored_{reply_id}", "openai-processing-ms": "1200"},
    )


def answer(arguments: str) -> Reply:
    """The model answers with these arguments, in whichever output mode was asked."""

    def reply(request: httpx2.Request, reply_id: str) -> httpx2.Response:
        message = wire.answer_message(
            json.loads(request.content), arguments, f"call_authored_{reply_id}"
        )
        return _completion(request, reply_id, message, "stop")

    return reply


def authored(name: str, change: Callable[[dict[str, Any]], None] | None = None) -> Reply:
    draft = json.loads((AUTHORED / f"{name}.json").read_text("utf-8"))
    if change is not None:
        change(draft)
    return answer(json.dumps(draft, ensure_ascii=False))


def truncated(request: httpx2.Request, reply_id: str) -> httpx2.Response:
    """Cut off by the output cap: finish_reason "length", every allowed token used."""
    arguments = '{"incidents": [{"summary": "Mortar she'
    call = wire.tool_call(f"call_authored_{reply_id}", TOOL_NAME, arguments)
    cap = json.loads(request.content)["max_completion_tokens"]
    return _completion(request, reply_id, wire.message(tool_calls=[call]), "length", cap)


def stopped_early(request: httpx2.Request, reply_id: str) -> httpx2.Response:
    """Stopped by the server: finish_reason "length" a few tokens in, far below the cap."""
    arguments = '{"incidents": [{"summary": "Mortar she'
    call = wire.tool_call(f"call_authored_{reply_id}", TOOL_NAME, arguments)
    return _completion(request, reply_id, wire.message(tool_calls=[call]), "length")


def refusal(request: httpx2.Request, reply_id: str) -> httpx2.Response:
    message = wire.message(refusal="I'm sorry, I can't help with that request.")
    return _completion(request, reply_id, message, "stop")


def error(status: int, error_type: str, code: str | None, message: str, **headers: str) -> Reply:
    def reply(request: httpx2.Request, reply_id: str) -> httpx2.Response:
        body = wire.error_body(message, error_type, code)
        return httpx2.Response(
            status, json=body, headers={"x-request-id": f"req_authored_{reply_id}", **headers}
        )

    return reply


def _fabricate(draft: dict[str, Any]) -> None:
    draft["incidents"][0]["evidence"][0] = (
        "Mortar shells struck an army checkpoint near Tuz Khurmatu, killing a soldier"
    )


rate_limited = error(
    429,
    "requests",
    "rate_limit_exceeded",
    "Rate limit reached for gpt-4.1-mini on requests per min (RPM): Limit 500, Used 500, "
    "Requested 1. Please try again in 2s.",
    **{
        "retry-after": "2",
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2s",
    },
)
server_error = error(
    500,
    "server_error",
    None,
    "The server had an error while processing your request. Sorry about that!",
)
unauthorized = error(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.")


@dataclass(frozen=True)
class Scenario:
    article: Path
    replies: tuple[Reply, ...]
    mode: OutputMode = OutputMode.TOOLS
    ends_in_error: bool = False


SCENARIOS: dict[str, Scenario] = {
    "seeds/seed_000": Scenario(SEEDS / "000_cd36c9e7819bf95c.txt", (authored("seed_000"),)),
    "seeds/seed_001": Scenario(SEEDS / "001_fe8b6d8ff8cf2d71.txt", (authored("seed_001"),)),
    "faults/rate_limited_then_ok": Scenario(
        FAULT_ARTICLE, (rate_limited, authored("mortar_strike"))
    ),
    "faults/server_error_then_ok": Scenario(
        FAULT_ARTICLE, (server_error, authored("mortar_strike"))
    ),
    "faults/fabricated_quote_reasked": Scenario(
        FAULT_ARTICLE, (authored("mortar_strike", _fabricate), authored("mortar_strike"))
    ),
    "faults/fabricated_quote_persists": Scenario(
        FAULT_ARTICLE, (authored("mortar_strike", _fabricate),) * 3, ends_in_error=True
    ),
    "faults/malformed_arguments_reasked": Scenario(
        FAULT_ARTICLE,
        (answer('{"incidents": [{"summary": "Mortar shells'), authored("mortar_strike")),
    ),
    "faults/truncated": Scenario(FAULT_ARTICLE, (truncated,), ends_in_error=True),
    "faults/stopped_early_then_ok": Scenario(
        FAULT_ARTICLE, (stopped_early, authored("mortar_strike"))
    ),
    "faults/refusal": Scenario(FAULT_ARTICLE, (refusal,), ends_in_error=True),
    "faults/unauthorized": Scenario(FAULT_ARTICLE, (unauthorized,), ends_in_error=True),
    "modes/json_schema": Scenario(
        FAULT_ARTICLE, (authored("mortar_strike"),), mode=OutputMode.JSON_SCHEMA
    ),
}

# The bundled example archive: one cassette per article, so `sitrep run examples/archive
# --replay cassettes/archive` works offline. Each article's answer is `authored/<stem>.json`,
# except the two seeds', which keep their names.
_ARCHIVE_ANSWERS = {"000_cd36c9e7819bf95c": "seed_000", "001_fe8b6d8ff8cf2d71": "seed_001"}
for _article in sorted(SEEDS.glob("*.txt")):
    SCENARIOS[f"archive/{_article.stem}"] = Scenario(
        _article, (authored(_ARCHIVE_ANSWERS.get(_article.stem, _article.stem)),)
    )


def author(name: str, scenario: Scenario, directory: Path) -> Path:
    """Run sitrep against the scenario's replies while vcrpy records to `directory/name.yaml`."""
    replies = iter(enumerate(scenario.replies, start=1))
    slug = name.rsplit("/", maxsplit=1)[-1].replace("_", "-")

    def serve(request: httpx2.Request) -> httpx2.Response:
        index, reply = next(replies)
        return reply(request, f"{slug}-{index}")

    path = directory / f"{name}.yaml"
    path.unlink(missing_ok=True)
    config = ModelConfig(model=MODEL, mode=scenario.mode)
    extractor = Extractor(
        config,
        api_key="sk-authoring-not-a-key",
        http_client=httpx2.Client(transport=httpx2.MockTransport(serve)),
    )
    article = Article.from_file(scenario.article)
    # Retry-After waits are real waits; authoring need not sit through them.
    with recorder(record_mode="all").use_cassette(str(path)), mock.patch("time.sleep"):
        try:
            extractor.extract(article)
        except SitrepError as exc:
            if not scenario.ends_in_error:
                raise RuntimeError(f"{name}: authored replies did not pass: {exc}") from exc
    if next(replies, None) is not None:
        raise RuntimeError(f"{name}: not every authored reply was requested")
    return path


def main() -> int:
    directory = ROOT / "cassettes"
    for name, scenario in SCENARIOS.items():
        print(author(name, scenario, directory).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
