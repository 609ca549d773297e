"""sitrep: typed, evidence-backed incident and statistics records from news articles.

>>> from sitrep import Article, Extractor, ModelConfig
>>> extractor = Extractor(ModelConfig(model="gpt-4.1-mini"), api_key=key)
>>> result = extractor.extract(Article.from_text(text, published=date(2024, 7, 17)))
>>> result.incidents[0].when.start
"""

__version__ = "0.1.0"

from sitrep.article import Article
from sitrep.batch import (
    BatchOptions,
    BatchPlan,
    BatchProgress,
    BatchSummary,
    plan_batch,
    run_batch,
)
from sitrep.errors import (
    ArticleError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    EndpointRejectedError,
    ExtractionError,
    InvalidOutputError,
    OutputError,
    RefusalError,
    ReplayError,
    SitrepError,
    TransportError,
    TruncatedOutputError,
)
from sitrep.extractor import Extractor, ModelConfig, OutputMode
from sitrep.readers import InputItem, read_archives
from sitrep.records import (
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
    TokenUsage,
    When,
)
from sitrep.replay import replay_clients
from sitrep.transport import RetryPolicy

__all__ = [
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
]
