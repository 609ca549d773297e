"""The fake server answering as a directory of cassettes does: its `answer` from recordings.

    answer = answers_from_cassettes(Path("cassettes/archive"))
    server = FakeOpenAIServer(ServerSettings(answer=answer))

Each request gets the tool arguments (or, for a `response_format` answer, the content) that the
cassette recorded for a request with the same JSON body, compared as data. The server still
builds the body around them (its own ids, its estimated usage), so records made through it,
interactively or in batch files, match those of a replayed run but for their provenance. A
request no cassette holds is an error naming it, as in replay: never an invented answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vcr.serialize import deserialize
from vcr.serializers import yamlserializer


class UnrecordedRequestError(LookupError):
    """The request is in no cassette of the directory."""


def answers_from_cassettes(directory: Path) -> Callable[[dict[str, Any]], str]:
    """A `ServerSettings.answer` giving each request its cassette's recorded arguments."""
    recorded: dict[str, str] = {}
    for file in sorted(directory.glob("*.yaml")):
        requests, responses = deserialize(file.read_text("utf-8"), yamlserializer)[:2]
        for request, response in zip(requests, responses, strict=True):
            body = json.loads(response["body"]["string"])
            recorded[_canonical(json.loads(request.body))] = _arguments(body)
    if not recorded:
        raise UnrecordedRequestError(f"{directory} holds no cassettes")

    def answer(request: dict[str, Any]) -> str:
        try:
            return recorded[_canonical(request)]
        except KeyError:
            raise UnrecordedRequestError(
                f"no cassette in {directory} holds this request (its prompt, schema, model or "
                "article differs from the recordings)"
            ) from None

    return answer


def _canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _arguments(body: dict[str, Any]) -> str:
    message = body["choices"][0]["message"]
    calls = message.get("tool_calls") or []
    if calls:
        return str(calls[0]["function"]["arguments"])
    return str(message.get("content") or "")
