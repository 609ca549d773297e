"""OpenAI Chat Completions responses in the exact wire format, built in one place.

The fake server, the authored cassettes (tests/author_cassettes.py) and the tests' synthetic
answers all build their bodies here, so that they agree with each other and with the API
description (`../shared/reference/openai-openapi.yaml`; tests/test_cassettes.py checks them
against it). Keys come in the order OpenAI sends them. Nothing here is a model's output: every
caller marks its ids as its own (`chatcmpl-authored-...`, `chatcmpl-fake-...`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "answer_message",
    "chat_completion",
    "error_body",
    "function_name",
    "malformed_arguments",
    "message",
    "tool_call",
    "usage",
]


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> dict[str, Any]:
    """A `usage` object, with the details OpenAI reports (no reasoning): `cached_tokens` of
    the prompt served from the prompt cache, none unless given."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def message(
    *,
    content: str | None = None,
    refusal: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An assistant message: text content, a refusal, or tool calls."""
    built: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": refusal,
        "annotations": [],
    }
    if tool_calls is not None:
        built["tool_calls"] = tool_calls
    return built


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def function_name(request: Mapping[str, Any]) -> str | None:
    """The function a request asks to be called (a forced choice, else its first tool), or
    None when it asks for the answer as message content (`response_format`, or no tools)."""
    choice, tools = request.get("tool_choice"), request.get("tools")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return str(choice["function"].get("name", "tool"))
    if tools and isinstance(tools, list) and isinstance(tools[0], dict):
        return str(tools[0].get("function", {}).get("name", "tool"))
    return None


def answer_message(request: Mapping[str, Any], arguments: str, call_id: str) -> dict[str, Any]:
    """The message that answers `request` with `arguments`, in the output mode it asked for."""
    name = function_name(request)
    if name is None:
        return message(content=arguments)
    return message(tool_calls=[tool_call(call_id, name, arguments)])


def chat_completion(
    *,
    completion_id: str,
    model: str,
    created: int,
    answer: dict[str, Any],
    finish_reason: str,
    token_usage: dict[str, Any],
    service_tier: str | None = None,
) -> dict[str, Any]:
    """A `chat.completion` object with one choice holding `answer` (see `message`)."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": answer, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": token_usage,
    }
    if service_tier is not None:
        body["service_tier"] = service_tier
    return body


def error_body(
    message_text: str, error_type: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """An error response's body: `{"error": {...}}`."""
    return {"error": {"message": message_text, "type": error_type, "param": param, "code": code}}


def malformed_arguments(arguments: str) -> str:
    """Arguments cut in half, as a truncated or garbled answer would be: never valid JSON."""
    cut = arguments[: len(arguments) // 2]
    try:
        json.loads(cut)
    except ValueError:
        return cut
    return '{"incidents": ['
