"""sitrep: typed, evidence-backed incident and statistics records from news articles.

>>> from sitrep import Article, Extractor, ModelConfig
>>> extractor = Extractor(ModelConfig(model="gpt-4.1-mini"), api_key=key)
>>> result = extractor.extract(Article.from_text(text, published=date(2024, 7, 17)))
>>> result.incidents[0].when.start

Every public name is importable from here. Each is loaded on first use, so that `import
sitrep` (or reading records with `from sitrep import Incident`) does not load the openai SDK,
instructor and the HTTP stack, which the extractor and the batch need and which take most of a
second to import.
"""

import importlib as _importlib
import typing as _typing

from sitrep._version import __version__

if _typing.TYPE_CHECKING:
    from sitrep.errors import (
        ArticleError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ContextOverflowError,
        EndpointRejectedError,
        EvaluationError,
        ExtractionError,
        InvalidOutputError,
        OutputError,
        RefusalError,
        ReplayError,
        SitrepError,
        StoppedEarlyError,
        TransportError,
        TruncatedOutputError,
    )
    from sitrep.evaluate.gold import (
        ArticleRecords,
        RecordSet,
        load_gold,
        load_run,
    )
    from sitrep.evaluate.score import (
        ArticleScore,
        Evaluation,
        RecordScores,
        StatisticScores,
        evaluate_run,
    )
    from sitrep.extract.combine import (
        combine_chunks,
    )
    from sitrep.extract.conversation import (
        Conversation,
        Reask,
    )
    from sitrep.extract.extractor import (
        Extractor,
    )
    from sitrep.extract.prompts import (
        PromptExample,
        PromptSet,
        load_prompts,
    )
    from sitrep.extract.request import (
        RequestBuilder,
    )
    from sitrep.model.article import (
        Article,
    )
    from sitrep.model.drafts import (
        DraftCasualtyFigure,
        DraftDamage,
        DraftExtraction,
        DraftIncident,
        DraftMunitions,
        DraftPerpetrator,
        DraftPlace,
        DraftReporter,
        DraftStatistic,
        DraftWhen,
    )
    from sitrep.model.records import (
        CasualtyFigure,
        Damage,
        Evidence,
        Extraction,
        Incident,
        Munitions,
        Perpetrator,
        Place,
        Provenance,
        Reporter,
        Statistic,
        When,
    )
    from sitrep.model.usage import (
        TokenUsage,
    )
    from sitrep.model.vocab import (
        Attribution,
        CasualtyOutcome,
        DamageLevel,
        DatePrecision,
        DateSource,
        EventType,
        IncidentStatus,
        MatchKind,
        PlacePrecision,
        Qualifier,
        ReporterKind,
        Salience,
        SiteKind,
        StatisticKind,
        SubEventType,
        TimeOfDay,
    )
    from sitrep.run.batchjobs import (
        BatchAction,
        JobReport,
        manage_batches,
    )
    from sitrep.run.batchrun import (
        BatchApiSummary,
        run_batch_api,
    )
    from sitrep.run.ledger import (
        ArticleOutcome,
        ArticleRow,
        ArticleStatus,
        Ledger,
    )
    from sitrep.run.plan import (
        BatchPlan,
        plan_batch,
    )
    from sitrep.run.readers import (
        InputItem,
        read_archives,
    )
    from sitrep.run.scheduler import (
        BatchProgress,
        BatchSummary,
        run_batch,
    )
    from sitrep.settings import (
        BatchApiOptions,
        BatchOptions,
        ModelConfig,
        OutputCapField,
        OutputMode,
        Price,
        PromptProfile,
        ReaskRoute,
        ReaskStyle,
        RetryPolicy,
    )
    from sitrep.text.chunks import (
        Chunk,
    )
    from sitrep.wire.calls import (
        Call,
        CallLog,
        ResponseCache,
    )
    from sitrep.wire.pacing import (
        Pacer,
    )
    from sitrep.wire.ratelimit import (
        Reservation,
    )
    from sitrep.wire.replay import (
        replay_clients,
    )

__all__ = [
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
]

# Where each public name lives, for `__getattr__`. The three lists (the imports for type
# checkers above, `__all__`, this map) are kept equal by tests/test_public_api.py.
_HOMES: dict[str, tuple[str, ...]] = {
    "sitrep.errors": (
        "ArticleError",
        "AuthenticationError",
        "BadRequestError",
        "ConfigurationError",
        "ContextOverflowError",
        "EndpointRejectedError",
        "EvaluationError",
        "ExtractionError",
        "InvalidOutputError",
        "OutputError",
        "RefusalError",
        "ReplayError",
        "SitrepError",
        "StoppedEarlyError",
        "TransportError",
        "TruncatedOutputError",
    ),
    "sitrep.text.chunks": ("Chunk",),
    "sitrep.model.article": ("Article",),
    "sitrep.model.drafts": (
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
    ),
    "sitrep.model.records": (
        "CasualtyFigure",
        "Damage",
        "Evidence",
        "Extraction",
        "Incident",
        "Munitions",
        "Perpetrator",
        "Place",
        "Provenance",
        "Reporter",
        "Statistic",
        "When",
    ),
    "sitrep.model.usage": ("TokenUsage",),
    "sitrep.model.vocab": (
        "Attribution",
        "CasualtyOutcome",
        "DamageLevel",
        "DatePrecision",
        "DateSource",
        "EventType",
        "IncidentStatus",
        "MatchKind",
        "PlacePrecision",
        "Qualifier",
        "ReporterKind",
        "Salience",
        "SiteKind",
        "StatisticKind",
        "SubEventType",
        "TimeOfDay",
    ),
    "sitrep.settings": (
        "BatchApiOptions",
        "BatchOptions",
        "ModelConfig",
        "OutputCapField",
        "OutputMode",
        "Price",
        "PromptProfile",
        "ReaskRoute",
        "ReaskStyle",
        "RetryPolicy",
    ),
    "sitrep.extract.combine": ("combine_chunks",),
    "sitrep.extract.conversation": ("Conversation", "Reask"),
    "sitrep.extract.extractor": ("Extractor",),
    "sitrep.extract.prompts": ("PromptExample", "PromptSet", "load_prompts"),
    "sitrep.extract.request": ("RequestBuilder",),
    "sitrep.wire.calls": ("Call", "CallLog", "ResponseCache"),
    "sitrep.wire.pacing": ("Pacer",),
    "sitrep.wire.ratelimit": ("Reservation",),
    "sitrep.wire.replay": ("replay_clients",),
    "sitrep.run.batchjobs": ("BatchAction", "JobReport", "manage_batches"),
    "sitrep.run.batchrun": ("BatchApiSummary", "run_batch_api"),
    "sitrep.run.ledger": ("ArticleOutcome", "ArticleRow", "ArticleStatus", "Ledger"),
    "sitrep.run.plan": ("BatchPlan", "plan_batch"),
    "sitrep.run.readers": ("InputItem", "read_archives"),
    "sitrep.run.scheduler": ("BatchProgress", "BatchSummary", "run_batch"),
    "sitrep.evaluate.gold": ("ArticleRecords", "RecordSet", "load_gold", "load_run"),
    "sitrep.evaluate.score": (
        "ArticleScore",
        "Evaluation",
        "RecordScores",
        "StatisticScores",
        "evaluate_run",
    ),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> _typing.Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'sitrep' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # found here from now on, without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
