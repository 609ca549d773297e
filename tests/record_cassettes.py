"""Record sitrep's real calls against any OpenAI-compatible endpoint: one cassette per article.

Each article is extracted on its own under vcrpy (`sitrep.wire.replay.recorder`, which scrubs
every credential header), so `DIR/<article>.yaml` holds its requests and the endpoint's real
answers, re-asks and error statuses included. `DIR/manifest.json` says what was recorded: the
model, the endpoint (scheme, host and path only), the date, sitrep's version, the options, and
each article's outcome. `tests/test_recorded.py` replays every such directory under
`cassettes/recorded/` with `sitrep run --replay` and checks the outcomes are the same.

    python -m sitrep.testing.localmodel --n-ctx 8192 &     # or any endpoint
    python tests/record_cassettes.py --base-url http://127.0.0.1:PORT/v1 \\
        --model smollm2-135m --out cassettes/recorded/smollm2-135m \\
        --mode json_object --prompt-profile compact --max-output-tokens 256 \\
        --timeout 600 --context-window 8192

The key is read from OPENAI_API_KEY when set (OpenAI's own endpoint needs it); it is never
written. Then add a row per cassette to cassettes/README.md: the lines printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from sitrep._version import __version__
from sitrep.errors import ArticleError, ConfigurationError, SitrepError
from sitrep.extract.extractor import Extractor
from sitrep.run.readers import HTML_SUFFIXES, TEXT_SUFFIXES, read_archives
from sitrep.settings import (
    ModelConfig,
    OutputCapField,
    OutputMode,
    PromptProfile,
    ReaskStyle,
)
from sitrep.wire.replay import recorder

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "examples" / "archive"
MANIFEST = "manifest.json"
ARTICLE_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES
_DEFAULTS = ModelConfig(model="any")
_NO_KEY = "sk-no-key"  # what a server that checks no key is sent


@dataclass(frozen=True)
class Outcome:
    file: str
    article_id: str | None
    cassette: str | None  # None: nothing was sent for this article
    outcome: str  # "done" or "failed", as `sitrep run` ends it
    error_kind: str | None = None  # as the ledger names it: the error's class, or "article"
    reason: str | None = None
    interactions: int = 0
    incidents: int = 0
    statistics: int = 0


def endpoint(base_url: str) -> str:
    """The base URL with its scheme, host and path only: no credentials, port or query."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.hostname}{parts.path.rstrip('/')}"


def options_of(config: ModelConfig) -> dict[str, Any]:
    """The model options of `sitrep run` that reproduce `config`'s requests, the automatic
    choices resolved: a replay sends to no endpoint, so it cannot choose them by host."""
    return {
        "mode": config.mode.value,
        "prompt-profile": config.prompt_profile.value,
        "max-output-tokens": config.max_output_tokens,
        "output-cap-field": config.cap_field.value,
        "context-window": config.context_window,
        "timeout": config.timeout,
        "reask-budget": config.reask_budget,
        "reask-as": config.reask_as.value,
        "max-article-chars": config.max_article_chars,
        "chunk-chars": config.chunk_chars,
        "chunk-overlap": config.chunk_overlap,
    }


def run_options(manifest: dict[str, Any]) -> list[str]:
    """The manifest's model, endpoint and options as `sitrep run` arguments."""
    arguments = ["--model", manifest["model"], "--base-url", manifest["base_url"]]
    for name, value in manifest["options"].items():
        if value is not None:
            arguments += [f"--{name}", str(value)]
    return arguments


def _shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def interactions(path: Path) -> int:
    """How many request and answer pairs the cassette at `path` holds (0 if none was written)."""
    if not path.is_file():
        return 0
    return len(deserialize(path.read_text("utf-8"), yamlserializer)[0])


def record(config: ModelConfig, api_key: str, articles: list[Path], out: Path) -> list[Outcome]:
    """Extract each article under its own cassette in `out`; what became of each."""
    out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    extractor = Extractor(config, api_key=api_key)
    try:
        for file in articles:
            item = next(iter(read_archives([file])))
            if item.article is None:
                outcomes.append(Outcome(_shown(file), None, None, "failed", "article", item.error))
                continue
            path = out / f"{file.stem}.yaml"
            path.unlink(missing_ok=True)
            kind = reason = None
            incidents = statistics = 0
            with recorder(record_mode="all").use_cassette(str(path)):
                try:
                    extraction = extractor.extract(item.article)
                except ArticleError as exc:
                    kind, reason = "article", str(exc)
                except SitrepError as exc:
                    kind, reason = type(exc).__name__, str(exc)
                else:
                    incidents, statistics = len(extraction.incidents), len(extraction.statistics)
            count = interactions(path)
            outcomes.append(
                Outcome(
                    file=_shown(file),
                    article_id=item.article.id,
                    cassette=path.name if count else None,
                    outcome="failed" if kind else "done",
                    error_kind=kind,
                    reason=reason,
                    interactions=count,
                    incidents=incidents,
                    statistics=statistics,
                )
            )
    finally:
        extractor.close()
    return outcomes


def write_manifest(config: ModelConfig, outcomes: list[Outcome], out: Path) -> Path:
    manifest = {
        "model": config.model,
        "base_url": endpoint(config.base_url),
        "date": datetime.now(UTC).date().isoformat(),
        "sitrep_version": __version__,
        "options": options_of(config),
        "articles": [vars(outcome) for outcome in outcomes],
    }
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python tests/record_cassettes.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base-url", required=True, help="the endpoint, e.g. http://host:port/v1")
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", type=Path, required=True, help="e.g. cassettes/recorded/<model>")
    parser.add_argument("--articles", type=Path, nargs="+", help="default: examples/archive/*.txt")
    parser.add_argument("--mode", choices=[m.value for m in OutputMode], default="tools")
    parser.add_argument(
        "--prompt-profile", choices=[p.value for p in PromptProfile], default="full"
    )
    parser.add_argument("--max-output-tokens", type=int, default=_DEFAULTS.max_output_tokens)
    parser.add_argument(
        "--output-cap-field", choices=[f.value for f in OutputCapField], default="auto"
    )
    parser.add_argument("--context-window", type=int)
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--reask-budget", type=int, default=_DEFAULTS.reask_budget)
    parser.add_argument("--reask-as", choices=[s.value for s in ReaskStyle], default="auto")
    parser.add_argument("--max-article-chars", type=int, default=_DEFAULTS.max_article_chars)
    parser.add_argument("--chunk-chars", type=int, default=_DEFAULTS.chunk_chars)
    parser.add_argument("--chunk-overlap", type=int, default=_DEFAULTS.chunk_overlap)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    try:
        config = ModelConfig(
            model=options.model,
            base_url=options.base_url,
            mode=OutputMode(options.mode),
            prompt_profile=PromptProfile(options.prompt_profile),
            max_output_tokens=options.max_output_tokens,
            output_cap_field=OutputCapField(options.output_cap_field),
            context_window=options.context_window,
            request_timeout=options.timeout,
            reask_budget=options.reask_budget,
            reask_style=ReaskStyle(options.reask_as),
            max_article_chars=options.max_article_chars,
            chunk_chars=options.chunk_chars,
            chunk_overlap=options.chunk_overlap,
        )
    except ConfigurationError as exc:
        parser.error(str(exc))
    api_key = os.environ.get("OPENAI_API_KEY", "")
    if not api_key and config.is_openai:
        parser.error("OPENAI_API_KEY is not set; OpenAI's endpoint needs it")
    articles = options.articles or sorted(ARCHIVE.glob("*.txt"))
    missing = [str(path) for path in articles if not path.is_file()]
    if missing:
        parser.error(f"no such article file: {', '.join(missing)}")
    other = [str(path) for path in articles if path.suffix.lower() not in ARTICLE_SUFFIXES]
    if other:
        parser.error(f"--articles takes text or HTML files, one article each: {', '.join(other)}")
    outcomes = record(config, api_key or _NO_KEY, articles, options.out)
    manifest = write_manifest(config, outcomes, options.out)
    for outcome in outcomes:
        print(f"{outcome.file}: {outcome.outcome} {outcome.reason or ''}".rstrip())
    print(f"wrote {_shown(manifest)}; rows for cassettes/README.md:")
    date = json.loads(manifest.read_text("utf-8"))["date"]
    for outcome in outcomes:
        if outcome.cassette is not None:
            name = _shown(options.out.resolve() / outcome.cassette).removeprefix("cassettes/")
            print(f"| {name} | recorded {config.model} {date} | {Path(outcome.file).name} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
