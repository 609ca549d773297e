"""Shared fixtures: an isolated environment and replay-only cassettes.

Tests never touch the network. Each cassette test plays `cassettes/<name>.yaml` through vcrpy
with sitrep's own recording settings and fails if the cassette is missing, if a request has no
recorded answer, or if any recorded interaction was never played.

`--record-mode=all` (with OPENAI_API_KEY set) re-records against a live endpoint instead; see
cassettes/README.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

import sitrep.run.ledger
from sitrep.extract.extractor import Extractor
from sitrep.model.article import Article
from sitrep.run.ledger import MIGRATIONS, Ledger
from sitrep.settings import ModelConfig, OutputMode
from sitrep.wire.replay import recorder

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
ARCHIVE = ROOT / "examples" / "archive"
SEED_FILES = {
    "seed_000": ARCHIVE / "000_cd36c9e7819bf95c.txt",
    "seed_001": ARCHIVE / "001_fe8b6d8ff8cf2d71.txt",
}
FAULT_ARTICLE = ROOT / "tests" / "articles" / "mortar_strike.txt"
MODEL = "gpt-4.1-mini"
# Read once, before the environment is cleared for each test; used only when recording live.
_LIVE_KEY = os.environ.get("OPENAI_API_KEY", "")
_ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "SITREP_MODEL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-mode",
        default="none",
        choices=["none", "once", "new_episodes", "all"],
        help="vcrpy record mode; anything but 'none' talks to a live endpoint.",
    )


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's keys or settings, or writes outside its temp dir."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def record_mode(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--record-mode"))


@pytest.fixture
def cassette(record_mode: str) -> Callable[[str], AbstractContextManager[None]]:
    """`with cassette("seeds/seed_000"):` replays that cassette and checks it was used up."""

    @contextmanager
    def use(name: str) -> Iterator[None]:
        path = CASSETTES / f"{name}.yaml"
        if record_mode == "none" and not path.exists():
            pytest.fail(f"cassette {path} is missing; see cassettes/README.md")
        with recorder(record_mode).use_cassette(str(path)) as played:
            yield
        if record_mode == "none":
            assert played.all_played, (
                f"{path} holds {len(played) - played.play_count} interaction(s) never played"
            )

    return use


@pytest.fixture
def make_extractor(record_mode: str) -> Callable[..., Extractor]:
    """An extractor like the authored cassettes' (or a live one when recording)."""

    def make(mode: OutputMode = OutputMode.TOOLS, **options: object) -> Extractor:
        live = record_mode != "none"
        if live and not _LIVE_KEY:
            pytest.skip("recording needs OPENAI_API_KEY")
        config = ModelConfig(model=MODEL, mode=mode, **options)  # type: ignore[arg-type]
        return Extractor(config, api_key=_LIVE_KEY if live else "test-key-never-sent")

    return make


@pytest.fixture
def fault_article() -> Article:
    return Article.from_file(FAULT_ARTICLE)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace the retry layer's sleeps; the list collects every wait asked for."""
    waits: list[float] = []

    async def async_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("time.sleep", waits.append)
    monkeypatch.setattr("asyncio.sleep", async_sleep)
    return waits


def ledger_from_before(migration: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A ledger made before `migration` shipped, holding one call ('a1', hash 'old'), then
    opened as it is now: every migration applied on opening."""
    before = [name for name, _ in MIGRATIONS].index(migration)
    monkeypatch.setattr(sitrep.run.ledger, "MIGRATIONS", MIGRATIONS[:before])
    old = Ledger.open(directory)
    old._db.execute(
        "INSERT INTO calls (article_id, request_hash, status, latency_ms, prompt_tokens, "
        "created_at) VALUES ('a1', 'old', 200, 1.0, 5000, '2026-01-01')"
    )
    old.commit()
    old.close()
    monkeypatch.setattr(sitrep.run.ledger, "MIGRATIONS", MIGRATIONS)
    return Ledger.open(directory)
