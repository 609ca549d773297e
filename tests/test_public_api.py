"""The public surface is exactly what `__all__` says, and nothing else leaks in unnoticed."""

from __future__ import annotations

import sitrep

EXPECTED = {
    "Article",
    "ArticleError",
    "AuthenticationError",
    "BadRequestError",
    "BatchOptions",
    "BatchPlan",
    "BatchProgress",
    "BatchSummary",
    "CasualtyFigure",
    "ConfigurationError",
    "Damage",
    "EndpointRejectedError",
    "Evidence",
    "Extraction",
    "ExtractionError",
    "Extractor",
    "Incident",
    "InputItem",
    "InvalidOutputError",
    "ModelConfig",
    "Munitions",
    "OutputError",
    "OutputMode",
    "Perpetrator",
    "Place",
    "Provenance",
    "RefusalError",
    "ReplayError",
    "Reporter",
    "RetryPolicy",
    "SitrepError",
    "Statistic",
    "TokenUsage",
    "TransportError",
    "TruncatedOutputError",
    "When",
    "__version__",
    "plan_batch",
    "read_archives",
    "replay_clients",
    "run_batch",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(sitrep.__all__) == EXPECTED
    assert len(sitrep.__all__) == len(EXPECTED)


def test_every_public_name_is_importable_from_the_package() -> None:
    for name in sitrep.__all__:
        assert getattr(sitrep, name) is not None, name


def test_every_error_derives_from_sitrep_error() -> None:
    errors = [getattr(sitrep, n) for n in sitrep.__all__ if n.endswith("Error")]
    assert len(errors) == 13
    assert all(issubclass(e, sitrep.SitrepError) for e in errors)


def test_package_names_beyond_all_are_only_submodules() -> None:
    public = {n for n in vars(sitrep) if not n.startswith("_")}
    stray = {
        n for n in public - set(sitrep.__all__) if type(getattr(sitrep, n)).__name__ != "module"
    }
    assert stray == set()
