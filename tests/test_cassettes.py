"""Every cassette is a faithful, credential-free OpenAI Chat Completions exchange (but those of
cassettes/batches/, Files and Batch API exchanges that tests/test_batch_cassettes.py checks).

Each request body conforms to `CreateChatCompletionRequest` and each response body to
`CreateChatCompletionResponse` (200) or `ErrorResponse` (anything else), by OpenAI's published
OpenAPI description and, independently of that file, by the openai SDK's own types. A recording
of another server (cassettes/recorded/, its manifest naming the endpoint) holds that server's
own answers, which need only satisfy the SDK: llama.cpp's, for one, omit `message.refusal`,
which the description requires. No cassette
holds a credential, every request is a POST to /chat/completions with a model and a system
prompt first, and cassettes/README.md states the origin of every cassette and of no other.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pydantic
import pytest
import yaml
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator as SchemaValidator
from openai.types.chat import ChatCompletion
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
from openai.types.shared import ErrorObject
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from conftest import CASSETTES, ROOT

SPEC = ROOT.parent / "shared" / "reference" / "openai-openapi.yaml"
SPEC_URI = "urn:openai:openapi"
README = CASSETTES / "README.md"
CASSETTE_FILES = sorted(CASSETTES.rglob("*.yaml"))
BATCH_CASSETTES = CASSETTES / "batches"  # Files and Batch API exchanges: test_batch_cassettes.py
CHAT_CASSETTE_FILES = [path for path in CASSETTE_FILES if BATCH_CASSETTES not in path.parents]

CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "api-key",
        "x-api-key",
        "openai-organization",
        "openai-project",
        "cookie",
        "set-cookie",
    }
)
CREDENTIAL_TEXT = re.compile(r"sk-[A-Za-z0-9_-]{16,}|Bearer ")
ORIGIN = re.compile(r"authored|recorded (?P<model>\S+) (?P<date>\d{4}-\d{2}-\d{2})")
MAX_REPORTED = 8  # errors reported per body; the first few say what is wrong

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it


# --- cassettes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interaction:
    where: str  # "faults/refusal.yaml#0", for messages
    method: str
    uri: str
    request_headers: Mapping[str, Any]
    request_body: Any
    status: int
    response_headers: Mapping[str, Any]
    response_body: Any


def _name(path: Path) -> str:
    return path.relative_to(CASSETTES).as_posix()


def _json(raw: object, where: str) -> Any:
    if not isinstance(raw, str | bytes):
        pytest.fail(f"{where}: body is {type(raw).__name__}, not JSON text")
    try:
        return json.loads(raw)
    except ValueError as exc:
        pytest.fail(f"{where}: body is not JSON: {exc}")


@cache
def _raw(path: Path) -> tuple[str, Any]:
    text = path.read_text("utf-8")
    return text, yaml.load(text, Loader=_LOADER)


def interactions(path: Path) -> list[Interaction]:
    """The cassette's interactions, bodies parsed; a malformed cassette fails the test."""
    data = _raw(path)[1]
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        pytest.fail(f"{_name(path)}: not a vcrpy cassette (no `interactions` list)")
    found = []
    for index, item in enumerate(data["interactions"]):
        where = f"{_name(path)}#{index}"
        try:
            request, response = item["request"], item["response"]
            found.append(
                Interaction(
                    where=where,
                    method=request["method"],
                    uri=request["uri"],
                    request_headers=request.get("headers") or {},
                    request_body=_json(request["body"], f"{where} request"),
                    status=response["status"]["code"],
                    response_headers=response.get("headers") or {},
                    response_body=_json(response["body"]["string"], f"{where} response"),
                )
            )
        except (KeyError, TypeError) as exc:
            pytest.fail(f"{where}: not a vcrpy interaction (missing {exc})")
    if not found:
        pytest.fail(f"{_name(path)}: holds no interactions")
    return found


def _short(text: str, limit: int = 200) -> str:
    """Head and tail: jsonschema's messages open with the instance, which may be a whole body."""
    half = limit // 2
    return text if len(text) <= limit else f"{text[:half]} ... {text[-half:]}"


each_cassette = pytest.mark.parametrize("path", CHAT_CASSETTE_FILES, ids=_name)
every_cassette = pytest.mark.parametrize("path", CASSETTE_FILES, ids=_name)


def _from_another_server(path: Path) -> bool:
    """Whether `path` was recorded from an endpoint other than OpenAI's, by its manifest."""
    manifest = path.parent / "manifest.json"
    if not manifest.is_file():
        return False
    base_url = str(json.loads(manifest.read_text("utf-8"))["base_url"])
    return urlsplit(base_url).hostname != "api.openai.com"


each_openai_answer = pytest.mark.parametrize(
    "path", [p for p in CHAT_CASSETTE_FILES if not _from_another_server(p)], ids=_name
)


# --- OpenAI's OpenAPI description -----------------------------------------------------------------


@dataclass(frozen=True)
class OpenAPI:
    validators: Mapping[str, SchemaValidator]


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "schemas"})


def _nullable_as_json_schema(node: object) -> None:
    """Rewrite OpenAPI 3.0's `nullable: true`, which the 3.1 document still uses in places.

    JSON Schema has no `nullable`; jsonschema ignores it and would reject a null the spec
    allows. `{..., nullable: true}` becomes `{anyOf: [{...}, {type: "null"}]}`.
    """
    if isinstance(node, list):
        for item in node:
            _nullable_as_json_schema(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                for schema in value.values():  # a property may be *named* nullable
                    _nullable_as_json_schema(schema)
            else:
                _nullable_as_json_schema(value)
        nullable = node.get("nullable")
        if isinstance(nullable, bool):
            del node["nullable"]
            if nullable:
                inner = dict(node)
                node.clear()
                node["anyOf"] = [inner, {"type": "null"}]


@cache
def _spec() -> Any:
    """The description, read once, its `nullable`s rewritten (see above)."""
    if not SPEC.is_file():
        reason = (
            f"OpenAI's OpenAPI description is not at {SPEC}; CI clones the repository with "
            "../shared beside it"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, and this is CI")
        pytest.skip(reason)
    with SPEC.open("rb") as stream:
        document = yaml.load(stream, Loader=_LOADER)
    assert str(document.get("openapi", "")).startswith("3.1"), (
        f"{SPEC} is OpenAPI {document.get('openapi')}; these checks read it as 3.1 "
        "(JSON Schema 2020-12)"
    )
    _nullable_as_json_schema(document["components"]["schemas"])
    return document


def load_openapi(names: Iterable[str]) -> OpenAPI:
    """A validator for each named schema of `components/schemas`, its refs resolved."""
    registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(_spec()))
    validators = {
        name: jsonschema.Draft202012Validator(
            {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}, registry=registry
        )
        for name in names
    }
    return OpenAPI(validators)


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return load_openapi(
        ("CreateChatCompletionRequest", "CreateChatCompletionResponse", "ErrorResponse")
    )


def schema_errors(validator: SchemaValidator, instance: Any, where: str) -> list[str]:
    """`where: $.path: message` for each violation.

    An instance that matches no alternative of an anyOf/oneOf gets, for each alternative, the
    error jsonschema ranks most relevant (a message of the wrong role: "'x' is not one of
    ['system']" for the system alternative, and so on).
    """
    found = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: e.json_path):
        if not error.context:
            found.append(f"{where}: {error.json_path}: {_short(error.message)}")
            continue
        by_alternative: dict[object, list[SchemaError]] = {}
        for cause in error.context:
            by_alternative.setdefault(cause.relative_schema_path[0], []).append(cause)
        causes = "; ".join(
            f"[{alternative}] {best.json_path}: {_short(best.message, 120)}"
            for alternative, errors in by_alternative.items()
            for best in [best_match(errors)]
        )
        found.append(f"{where}: {error.json_path}: matches no {error.validator} branch: {causes}")
    return found[:MAX_REPORTED]


@each_cassette
def test_request_bodies_conform_to_openapi_create_chat_completion_request(
    path: Path, openapi: OpenAPI
) -> None:
    validator = openapi.validators["CreateChatCompletionRequest"]
    problems = [
        problem
        for interaction in interactions(path)
        for problem in schema_errors(
            validator, interaction.request_body, f"{interaction.where} request"
        )
    ]
    assert not problems, "\n".join(problems)


@each_openai_answer
def test_response_bodies_conform_to_openapi_completion_or_error_response(
    path: Path, openapi: OpenAPI
) -> None:
    problems = []
    for interaction in interactions(path):
        name = "CreateChatCompletionResponse" if interaction.status == 200 else "ErrorResponse"
        problems += schema_errors(
            openapi.validators[name],
            interaction.response_body,
            f"{interaction.where} response ({interaction.status}, as {name})",
        )
    assert not problems, "\n".join(problems)


def test_openapi_validators_accept_valid_and_reject_malformed_bodies(openapi: OpenAPI) -> None:
    """The checks above can fail (refs resolve to real schemas) and honour `nullable`."""
    request = openapi.validators["CreateChatCompletionRequest"]
    response = openapi.validators["CreateChatCompletionResponse"]
    error = openapi.validators["ErrorResponse"]
    completion: dict[str, Any] = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }
    assert not list(response.iter_errors(completion))
    assert list(response.iter_errors({**completion, "choices": [{"finish_reason": "done"}]}))
    minimal: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "a"}]}
    assert not list(request.iter_errors(minimal))
    assert not list(request.iter_errors({**minimal, "max_completion_tokens": None}))  # nullable
    assert list(request.iter_errors({**minimal, "max_completion_tokens": "many"}))
    assert list(request.iter_errors({**minimal, "messages": []}))
    assert list(request.iter_errors({**minimal, "messages": [{"role": "wizard", "content": "a"}]}))
    assert list(error.iter_errors({"error": {"message": "no type, param or code"}}))


# --- the openai SDK's own types -------------------------------------------------------------------

CREATE_PARAMS = pydantic.TypeAdapter(CompletionCreateParamsNonStreaming)
CREATE_PARAM_NAMES = (
    CompletionCreateParamsNonStreaming.__required_keys__
    | CompletionCreateParamsNonStreaming.__optional_keys__
)


class ErrorBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    error: ErrorObject


def _drain(value: object) -> object:
    """Iterate pydantic's lazy validators to the end.

    The SDK's params types declare lists as `Iterable[...]` (messages, tools, tool_calls,
    content parts), and pydantic validates an Iterable only as it is iterated: the validated
    dict holds ValidatorIterators, so a bad message passes `validate_python` unnoticed.
    """
    if isinstance(value, dict):
        return {key: _drain(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return [_drain(item) for item in value]
    return value


def validate_create_params(body: object) -> None:
    """Validate strictly (JSON types, no coercion) and all the way down."""
    _drain(CREATE_PARAMS.validate_python(body, strict=True))


def sdk_errors(exc: pydantic.ValidationError, where: str) -> list[str]:
    return [
        f"{where}: {'.'.join(map(str, error['loc']))}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)[:MAX_REPORTED]
    ]


@each_cassette
def test_request_bodies_validate_as_sdk_create_params(path: Path) -> None:
    problems = []
    for interaction in interactions(path):
        where = f"{interaction.where} request"
        try:
            validate_create_params(interaction.request_body)
        except pydantic.ValidationError as exc:
            problems += sdk_errors(exc, where)
        # TypedDicts ignore unknown keys; the API rejects unknown request arguments.
        if isinstance(interaction.request_body, dict):
            unknown = sorted(set(interaction.request_body) - CREATE_PARAM_NAMES)
            if unknown:
                problems.append(f"{where}: arguments the SDK does not know: {unknown}")
    assert not problems, "\n".join(problems)


@each_cassette
def test_response_bodies_validate_as_sdk_chat_completion_or_error(path: Path) -> None:
    problems = []
    for interaction in interactions(path):
        body, ok = interaction.response_body, interaction.status == 200
        where = f"{interaction.where} response ({interaction.status})"
        try:
            if ok:
                ChatCompletion.model_validate(body, strict=True)
            else:
                ErrorBody.model_validate(body, strict=True)
        except pydantic.ValidationError as exc:
            problems += sdk_errors(exc, where)
            continue
        if not ok:
            # ErrorObject defaults param and code to None; the API always sends all four.
            missing = {"message", "type", "param", "code"} - set(body["error"])
            if missing:
                problems.append(f"{where}: error lacks {sorted(missing)}")
    assert not problems, "\n".join(problems)


def test_sdk_checks_reject_malformed_bodies() -> None:
    """The SDK checks can fail, down to a message nested in the lazily validated list."""
    good = {"model": "m", "messages": [{"role": "system", "content": "a"}]}
    validate_create_params(good)
    nested = {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}
    for bad in (
        {"model": "m"},
        {**good, "messages": [{"role": "wizard", "content": "a"}]},
        {**good, "messages": [nested]},
        {**good, "temperature": "0"},
        {**good, "stream": True},
    ):
        with pytest.raises(pydantic.ValidationError):
            validate_create_params(bad)
    with pytest.raises(pydantic.ValidationError):
        ChatCompletion.model_validate({"id": "x", "object": "chat.completion"}, strict=True)
    with pytest.raises(pydantic.ValidationError):
        ErrorBody.model_validate({"error": {"message": "no type"}}, strict=True)


# --- credentials ----------------------------------------------------------------------------------


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


@each_cassette
def test_cassette_holds_no_credential(path: Path) -> None:
    problems = []
    for interaction in interactions(path):
        for side, headers in (
            ("request", interaction.request_headers),
            ("response", interaction.response_headers),
        ):
            leaked = sorted(name for name in headers if name.lower() in CREDENTIAL_HEADERS)
            if leaked:
                problems.append(f"{interaction.where} {side} headers: {leaked}")
    text, data = _raw(path)
    # The raw text, and every string in it once YAML has joined its folded lines.
    for candidate in (text, *_strings(data)):
        problems += [
            f"{_name(path)}: {match.group()!r}..." for match in CREDENTIAL_TEXT.finditer(candidate)
        ]
    assert not problems, "credentials in the cassette:\n" + "\n".join(sorted(set(problems)))


# --- cassettes/README.md --------------------------------------------------------------------------


def readme_origins() -> dict[str, str]:
    """Cassette path (relative to cassettes/) to origin, from the README's table rows."""
    if not README.is_file():
        pytest.fail(f"{README.relative_to(ROOT)} is missing; it must list every cassette")
    origins: dict[str, str] = {}
    for line in README.read_text("utf-8").splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and len(cells) >= 2 and cells[0].endswith(".yaml"):
            assert cells[0] not in origins, f"README lists {cells[0]} twice"
            origins[cells[0]] = cells[1]
    return origins


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


@every_cassette
def test_readme_lists_cassette_with_its_origin(path: Path) -> None:
    name = _name(path)
    origins = readme_origins()
    assert name in origins, f"cassettes/README.md has no row for {name}"
    origin = ORIGIN.fullmatch(origins[name])
    assert origin, (
        f"cassettes/README.md: origin of {name} is {origins[name]!r}, not 'authored' or "
        "'recorded <model> <YYYY-MM-DD>'"
    )
    if origin["date"]:
        assert _is_date(origin["date"]), f"cassettes/README.md: {name}: {origin['date']} is no date"


def test_readme_lists_only_cassettes_that_exist() -> None:
    listed = set(readme_origins())
    missing = sorted(name for name in listed if not (CASSETTES / name).is_file())
    assert not missing, f"cassettes/README.md lists cassettes that do not exist: {missing}"


# --- the requests sitrep sends --------------------------------------------------------------------


@each_cassette
def test_requests_post_a_model_and_messages_that_open_with_a_system_prompt(path: Path) -> None:
    problems = []
    for interaction in interactions(path):
        where, body = interaction.where, interaction.request_body
        if interaction.method.upper() != "POST":
            problems.append(f"{where}: method {interaction.method}, not POST")
        if not urlsplit(interaction.uri).path.endswith("/chat/completions"):
            problems.append(f"{where}: {interaction.uri} is not a /chat/completions endpoint")
        if not isinstance(body, dict):
            problems.append(f"{where}: request body is not a JSON object")
            continue
        if not isinstance(body.get("model"), str) or not body["model"]:
            problems.append(f"{where}: no model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            problems.append(f"{where}: messages is not a non-empty list")
        elif not isinstance(messages[0], dict) or messages[0].get("role") != "system":
            problems.append(f"{where}: the first message is not the system prompt")
    assert not problems, "\n".join(problems)
