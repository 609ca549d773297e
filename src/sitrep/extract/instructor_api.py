"""instructor's semi-private pieces, imported here and nowhere else.

sitrep takes two things from instructor: the function schema of the draft model and the parser
that turns an answer into a draft for the output mode (the re-ask is sitrep's own,
`sitrep.extract.reask`, for reasons given there). Its public client
(`instructor.from_openai(...)`) would do both on every call and rebuild the schema each time
(about 3.7 ms of CPU a call), and it would retry transport faults and invalid output in one
loop, which sitrep keeps apart. So the pieces are taken from `instructor.v2` directly, where
the client gets them.

Checked against instructor 1.17.0 (pyproject.toml admits >=1.17,<2). These paths are not part
of instructor's documented API and may move in a minor release: tests/test_instructor_api.py
imports and exercises each of them, so an upgrade that moves one fails there, by name.
"""

from __future__ import annotations

import functools
import json
from typing import Any, TypeVar

import instructor
import pydantic
from instructor.core.exceptions import ResponseParsingError
from instructor.v2 import mode_registry
from instructor.v2.core.registry import ModeHandlers
from instructor.v2.providers.openai.schema import generate_openai_schema
from openai.types.chat import ChatCompletion

from sitrep.settings import OutputMode

__all__ = ["PARSE_ERRORS", "AnswerParser", "function_schema"]

# What a parser raises for an answer that does not fit the model: each is re-asked.
PARSE_ERRORS = (
    pydantic.ValidationError,
    json.JSONDecodeError,
    ResponseParsingError,
)

_MODES = {
    OutputMode.TOOLS: instructor.Mode.TOOLS,
    OutputMode.JSON_SCHEMA: instructor.Mode.JSON_SCHEMA,
    OutputMode.JSON_OBJECT: instructor.Mode.JSON,
}

Model = TypeVar("Model", bound=pydantic.BaseModel)


def function_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The OpenAI function definition (name, description, parameters) of `model`."""
    return dict(generate_openai_schema(model))


class AnswerParser:
    """instructor's answer parser for one output mode."""

    def __init__(self, mode: OutputMode) -> None:
        self._handlers: ModeHandlers = mode_registry.get_handlers(
            instructor.Provider.OPENAI, _MODES[mode]
        )

    @staticmethod
    @functools.cache
    def for_mode(mode: OutputMode) -> AnswerParser:
        """The parser of `mode`, made once: looking the handlers up costs about 60 us."""
        return AnswerParser(mode)

    def parse(self, completion: ChatCompletion, model: type[Model]) -> Model:
        """The answer as `model`; raises one of `PARSE_ERRORS` if it does not fit."""
        parsed = self._handlers.response_parser(
            response=completion,
            response_model=model,
            validation_context=None,
            strict=False,
            stream=False,
            is_async=False,
        )
        if not isinstance(parsed, model):
            raise ResponseParsingError(f"the answer did not parse as {model.__name__}")
        return parsed
