"""The re-ask request: the conversation, the answer once, then its problems, in either style."""

from __future__ import annotations

import json
from typing import Any

from sitrep.extract.prompts import TOOL_NAME
from sitrep.extract.reask import correction, reask_request
from sitrep.settings import ModelConfig, OutputMode, ReaskStyle
from sitrep.testing import completions as wire

EMPTY = json.dumps({"incidents": [], "statistics": []})
REQUEST: dict[str, Any] = {
    "model": "gpt-4.1-mini",
    "messages": [{"role": "user", "content": "An article."}],
    "tools": [{"type": "function", "function": {"name": TOOL_NAME}}],
    "tool_choice": {"type": "function", "function": {"name": TOOL_NAME}},
}
PROBLEM = "incidents[0].evidence[0]: the quote is not in the article"


def _call_answer(content: str | None = None) -> dict[str, Any]:
    call = wire.tool_call("call_1", TOOL_NAME, EMPTY)
    return wire.message(content=content, tool_calls=[call])


def test_reask_appends_the_answer_and_the_problem_and_leaves_the_request_alone() -> None:
    original = json.loads(json.dumps(REQUEST))
    reasked = reask_request(REQUEST, _call_answer(), [PROBLEM], style=ReaskStyle.TOOL)
    assert original == REQUEST
    assert reasked["messages"][: len(REQUEST["messages"])] == REQUEST["messages"]
    added = reasked["messages"][len(REQUEST["messages"]) :]
    assert added[0]["role"] == "assistant"
    assert "the quote is not in the article" in json.dumps(added[1:])
    assert {k: v for k, v in reasked.items() if k != "messages"} == {
        k: v for k, v in REQUEST.items() if k != "messages"
    }


def test_tool_style_answers_the_call_with_a_tool_message_naming_its_id() -> None:
    added = reask_request(REQUEST, _call_answer(), [PROBLEM], style=ReaskStyle.TOOL)["messages"][1:]
    assert [m["role"] for m in added] == ["assistant", "tool"]
    assert added[0]["tool_calls"][0]["id"] == added[1]["tool_call_id"] == "call_1"
    assert PROBLEM in added[1]["content"]


def test_user_style_sends_no_tool_message_and_the_answer_as_text() -> None:
    added = reask_request(REQUEST, _call_answer(), [PROBLEM], style=ReaskStyle.USER)["messages"][1:]
    assert [m["role"] for m in added] == ["assistant", "user"]
    assert "tool_calls" not in added[0]
    assert added[0]["content"] == EMPTY
    assert PROBLEM in added[1]["content"]


def test_the_answer_is_sent_back_once_even_when_the_server_also_wrote_it_as_text() -> None:
    for style in ReaskStyle.TOOL, ReaskStyle.USER:
        added = reask_request(REQUEST, _call_answer(content=EMPTY), [PROBLEM], style=style)
        assert json.dumps(added["messages"][1:]).count(json.dumps(EMPTY)[1:-1]) == 1, style


def test_an_answer_without_a_call_is_corrected_by_a_user_message_in_tool_style() -> None:
    # A tool message must answer a call; with none to answer, only a user message can say it.
    answer = wire.message(content=EMPTY)
    added = reask_request(REQUEST, answer, [PROBLEM], style=ReaskStyle.TOOL)["messages"][1:]
    assert [m["role"] for m in added] == ["assistant", "user"]
    assert added[0]["content"] == EMPTY


def test_correction_lists_every_problem_and_says_how_to_answer() -> None:
    text = correction(["first problem", "second problem"], call=True)
    assert "- first problem\n- second problem" in text
    assert TOOL_NAME in text
    assert TOOL_NAME not in correction(["a problem"], call=False)


def test_reask_style_is_tool_for_openai_and_user_for_other_servers() -> None:
    assert ModelConfig(model="m").reask_as is ReaskStyle.TOOL
    local = ModelConfig(model="m", base_url="http://127.0.0.1:8080/v1")
    assert local.reask_as is ReaskStyle.USER
    chosen = ModelConfig(
        model="m", base_url="http://127.0.0.1:8080/v1", reask_style=ReaskStyle.TOOL
    )
    assert chosen.reask_as is ReaskStyle.TOOL


def test_json_modes_always_re_ask_in_user_style() -> None:
    # There is no function call to answer in those modes.
    for mode in OutputMode.JSON_SCHEMA, OutputMode.JSON_OBJECT:
        config = ModelConfig(model="m", mode=mode, reask_style=ReaskStyle.TOOL)
        assert config.reask_as is ReaskStyle.USER
