"""The public surface is exactly what `__all__` says, whole, and cheap to import.

Whole: every sitrep type that an exported function, class, method or field mentions is itself
exported, so a user can name what the API hands them. Cheap: `import sitrep` loads the names
on first use, not the openai SDK and instructor that only the extractor needs.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

import sitrep

INIT = Path(sitrep.__file__)

EXPECTED = {
    "Article",
    "ArticleError",
    "ArticleOutcome",
    "ArticleRecords",
    "ArticleRow",
    "ArticleScore",
    "ArticleStatus",
    "Attribution",
    "AuthenticationError",
    "BadRequestError",
    "BatchAction",
    "BatchApiOptions",
    "BatchApiSummary",
    "BatchOptions",
    "BatchPlan",
    "BatchProgress",
    "BatchSummary",
    "Call",
    "CallLog",
    "CasualtyFigure",
    "CasualtyOutcome",
    "Chunk",
    "ConfigurationError",
    "ContextOverflowError",
    "Conversation",
    "Damage",
    "DamageLevel",
    "DatePrecision",
    "DateSource",
    "DraftCasualtyFigure",
    "DraftDamage",
    "DraftExtraction",
    "DraftIncident",
    "DraftMunitions",
    "DraftPerpetrator",
    "DraftPlace",
    "DraftReporter",
    "DraftStatistic",
    "DraftWhen",
    "EndpointRejectedError",
    "Evaluation",
    "EvaluationError",
    "EventType",
    "Evidence",
    "Extraction",
    "ExtractionError",
    "Extractor",
    "Incident",
    "IncidentStatus",
    "InputItem",
    "InvalidOutputError",
    "JobReport",
    "Ledger",
    "MatchKind",
    "ModelConfig",
    "Munitions",
    "OutputCapField",
    "OutputError",
    "OutputMode",
    "Pacer",
    "Perpetrator",
    "Place",
    "PlacePrecision",
    "Price",
    "PromptExample",
    "PromptProfile",
    "PromptSet",
    "Provenance",
    "Qualifier",
    "Reask",
    "ReaskRoute",
    "ReaskStyle",
    "RecordScores",
    "RecordSet",
    "RefusalError",
    "ReplayError",
    "Reporter",
    "ReporterKind",
    "RequestBuilder",
    "Reservation",
    "ResponseCache",
    "RetryPolicy",
    "Salience",
    "SiteKind",
    "SitrepError",
    "Statistic",
    "StatisticKind",
    "StatisticScores",
    "StoppedEarlyError",
    "SubEventType",
    "TimeOfDay",
    "TokenUsage",
    "TransportError",
    "TruncatedOutputError",
    "When",
    "__version__",
    "combine_chunks",
    "evaluate_run",
    "load_gold",
    "load_prompts",
    "load_run",
    "manage_batches",
    "plan_batch",
    "read_archives",
    "replay_clients",
    "run_batch",
    "run_batch_api",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(sitrep.__all__) == EXPECTED
    assert len(sitrep.__all__) == len(EXPECTED)


def test_every_public_name_is_importable_from_the_package() -> None:
    for name in sitrep.__all__:
        assert getattr(sitrep, name) is not None, name


def test_every_error_derives_from_sitrep_error() -> None:
    errors = [getattr(sitrep, n) for n in sitrep.__all__ if n.endswith("Error")]
    assert len(errors) == 16
    assert all(issubclass(e, sitrep.SitrepError) for e in errors)


def test_package_names_beyond_all_are_only_submodules() -> None:
    for name in sitrep.__all__:
        getattr(sitrep, name)  # every lazy name loaded, so that none hides from `vars`
    public = {n for n in vars(sitrep) if not n.startswith("_")}
    stray = {
        n for n in public - set(sitrep.__all__) if type(getattr(sitrep, n)).__name__ != "module"
    }
    assert stray == set()


def test_an_unknown_name_raises_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        getattr(sitrep, "NoSuchThing")  # noqa: B009


def _type_checking_imports() -> set[str]:
    """The names `sitrep/__init__.py` imports for type checkers."""
    tree = ast.parse(INIT.read_text("utf-8"))
    (block,) = [n for n in tree.body if isinstance(n, ast.If)]
    return {a.name for node in block.body if isinstance(node, ast.ImportFrom) for a in node.names}


def test_the_type_checkers_imports_the_lazy_map_and_all_agree() -> None:
    exported = set(sitrep.__all__) - {"__version__"}
    assert _type_checking_imports() == exported
    assert set(sitrep._HOME_OF) == exported
    for name, module in sitrep._HOME_OF.items():
        assert getattr(sitrep, name).__module__ == module, name


def _annotations_of(obj: object) -> Iterator[object]:
    """Every annotation of an exported function or class: its fields, and the parameters and
    return types of its public methods (and `__init__`)."""
    functions: list[object] = [obj]
    if inspect.isclass(obj):
        yield from typing.get_type_hints(obj, localns=_NAMES).values()
        functions = []
        for name, member in vars(obj).items():
            if name.startswith("_") and name != "__init__":
                continue
            function = member.__func__ if isinstance(member, staticmethod | classmethod) else member
            function = function.fget if isinstance(function, property) else function
            if inspect.isfunction(function):
                functions.append(function)
    for function in functions:
        yield from typing.get_type_hints(function, localns=_NAMES).values()


_NAMES = {name: getattr(sitrep, name) for name in sitrep.__all__}


def _sitrep_types(annotation: object) -> Iterator[type]:
    if isinstance(annotation, type) and annotation.__module__.startswith("sitrep."):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _sitrep_types(argument)
    if isinstance(annotation, types.UnionType):
        for argument in annotation.__args__:
            yield from _sitrep_types(argument)


def test_every_sitrep_type_a_public_signature_uses_is_exported() -> None:
    exported = {id(value) for value in _NAMES.values()}
    missing = {
        f"{used.__module__}.{used.__qualname__} (in {name})"
        for name, value in _NAMES.items()
        if callable(value)
        for annotation in _annotations_of(value)
        for used in _sitrep_types(annotation)
        if id(used) not in exported
    }
    assert missing == set()


def _modules_loaded_by(code: str) -> set[str]:
    found = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(found.stdout.split())


def test_import_sitrep_loads_neither_the_sdk_nor_instructor() -> None:
    loaded = _modules_loaded_by("import sitrep")
    assert {"openai", "instructor", "httpx2", "pydantic"} & loaded == set()


def test_reading_records_loads_pydantic_but_not_the_sdk() -> None:
    loaded = _modules_loaded_by("from sitrep import Incident, Extraction")
    assert "pydantic" in loaded
    assert {"openai", "instructor", "httpx2"} & loaded == set()


def test_scoring_loads_scipy_only_when_it_pairs_records() -> None:
    loaded = _modules_loaded_by("from sitrep import evaluate_run, load_gold, load_run, Evaluation")
    assert {"scipy", "numpy", "openai", "instructor"} & loaded == set()
