"""The re-ask: the request that sends an invalid answer back to the model with its problems.

The conversation so far, then the model's answer once, then what was wrong with it:

    TOOL style (OpenAI)   assistant: the function call   tool: the problems, answering the call
    USER style            assistant: the answer as text  user: the problems

Written here rather than taken from instructor: instructor's re-ask repeats the whole answer in
the assistant message twice (as its text and in its tool calls), which can double a long
answer past a small context window, and always answers a function call with a `tool` message,
which the chat templates of some servers drop, so the correction never reaches the model.
Which style is used is a setting (`ModelConfig.reask_as`), not a guess made here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sitrep.extract.prompts import TOOL_NAME
from sitrep.settings import ReaskStyle

__all__ = ["correction", "reask_request"]


def reask_request(
    request: Mapping[str, Any],
    message: Mapping[str, Any],
    problems: Sequence[str],
    *,
    style: ReaskStyle,
) -> dict[str, Any]:
    """`request` with the answer `message` (the answer's `choices[0].message`) and its
    `problems` appended; `request` itself is left as it was sent."""
    calls = [call for call in message.get("tool_calls") or () if isinstance(call, Mapping)]
    text = correction(problems, call=bool(calls))
    if style is ReaskStyle.TOOL and calls:
        added: list[dict[str, Any]] = [
            # Empty text rather than null: llama.cpp's server refuses a null content (a 500).
            {"role": "assistant", "content": "", "tool_calls": [_call(c) for c in calls]}
        ]
        added += [{"role": "tool", "tool_call_id": c.get("id"), "content": text} for c in calls]
    else:
        added = [
            {"role": "assistant", "content": _answer_text(message, calls)},
            {"role": "user", "content": text},
        ]
    return {**request, "messages": [*request.get("messages", []), *added]}


def correction(problems: Sequence[str], *, call: bool) -> str:
    """What the model is told about its invalid answer."""
    listed = "\n".join(f"- {problem}" for problem in problems) or "- the answer was not usable"
    again = f"Call `{TOOL_NAME}` again" if call else "Answer again with the whole JSON object"
    return (
        "Your answer was checked against the article and has these problems:\n"
        f"{listed}\n"
        f"{again}, with every problem fixed and everything else kept as it was."
    )


def _call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {"name": function.get("name"), "arguments": function.get("arguments")},
    }


def _answer_text(message: Mapping[str, Any], calls: Sequence[Mapping[str, Any]]) -> str:
    """The answer as one text: the arguments of its call, or what it wrote."""
    if calls:
        arguments = (calls[0].get("function") or {}).get("arguments")
        if isinstance(arguments, str):
            return arguments
        return json.dumps(arguments, ensure_ascii=False)
    content = message.get("content")
    return content if isinstance(content, str) else ""
