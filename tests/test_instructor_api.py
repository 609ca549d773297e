"""instructor's semi-private pieces, exercised one by one.

sitrep takes them from paths that are not instructor's documented API (see
`sitrep.extract.instructor_api`). An instructor release that moves or changes one fails here,
naming the piece, instead of failing somewhere in an extraction.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from sitrep.extract.instructor_api import PARSE_ERRORS, AnswerParser, function_schema
from sitrep.extract.prompts import TOOL_NAME
from sitrep.model.drafts import DraftExtraction
from sitrep.settings import OutputMode
from sitrep.testing import completions as wire

EMPTY = json.dumps({"incidents": [], "statistics": []})


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("instructor.core.exceptions", "ResponseParsingError"),
        ("instructor.v2", "mode_registry"),
        ("instructor.v2.core.registry", "ModeHandlers"),
        ("instructor.v2.providers.openai.schema", "generate_openai_schema"),
        ("instructor", "Mode"),
        ("instructor", "Provider"),
    ],
)
def test_each_semi_private_piece_is_where_the_adapter_takes_it(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} moved"


def completion(answer: dict[str, Any]) -> ChatCompletion:
    body = wire.chat_completion(
        completion_id="chatcmpl-test",
        model="gpt-4.1-mini",
        created=0,
        answer=answer,
        finish_reason="stop",
        token_usage=wire.usage(10, 5),
    )
    return ChatCompletion.model_construct(**body)


def test_function_schema_is_named_for_the_model_and_carries_its_parameters() -> None:
    schema = function_schema(DraftExtraction)
    assert schema["name"] == TOOL_NAME
    assert schema["parameters"]["required"] == ["incidents", "statistics"]
    assert schema["description"]


def test_tools_parser_reads_the_forced_call_as_the_draft() -> None:
    answer = wire.message(tool_calls=[wire.tool_call("call_1", TOOL_NAME, EMPTY)])
    draft = AnswerParser(OutputMode.TOOLS).parse(completion(answer), DraftExtraction)
    assert draft == DraftExtraction(incidents=[], statistics=[])


def test_json_schema_parser_reads_the_message_content_as_the_draft() -> None:
    answer = wire.message(content=EMPTY)
    draft = AnswerParser(OutputMode.JSON_SCHEMA).parse(completion(answer), DraftExtraction)
    assert draft == DraftExtraction(incidents=[], statistics=[])


def test_arguments_that_are_not_json_raise_a_parse_error_that_is_re_asked() -> None:
    answer = wire.message(tool_calls=[wire.tool_call("call_1", TOOL_NAME, '{"incidents": [')])
    with pytest.raises(PARSE_ERRORS):
        AnswerParser(OutputMode.TOOLS).parse(completion(answer), DraftExtraction)


def test_parser_of_a_mode_is_made_once() -> None:
    assert AnswerParser.for_mode(OutputMode.TOOLS) is AnswerParser.for_mode(OutputMode.TOOLS)
    assert AnswerParser.for_mode(OutputMode.TOOLS) is not AnswerParser.for_mode(
        OutputMode.JSON_SCHEMA
    )
