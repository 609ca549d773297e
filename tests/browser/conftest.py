"""The example archive's replayed run, its review page, and chromium to open it in.

Playwright's own browser download does not work offline, so the tests drive the system's
chromium. Without it or without playwright they are skipped, naming the install command.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


def sitrep(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sitrep", *args], capture_output=True, text=True, check=False
    )


@dataclass(frozen=True)
class Review:
    run_dir: Path
    page: Path

    @property
    def url(self) -> str:
        return self.page.as_uri()


@pytest.fixture(scope="session")
def review(tmp_path_factory: pytest.TempPathFactory) -> Review:
    base = tmp_path_factory.mktemp("review")
    run_dir = base / "out"
    archive, cassettes = ROOT / "examples" / "archive", ROOT / "cassettes" / "archive"
    ran = sitrep("run", str(archive), "--out", str(run_dir), "--replay", str(cassettes))
    assert ran.returncode == 0, ran.stderr
    page = base / "report.html"
    made = sitrep("report", str(run_dir), "-o", str(page))
    assert made.returncode == 0, made.stderr
    return Review(run_dir=run_dir, page=page)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415  (the browser extra)
    except ImportError:
        pytest.skip("playwright is not installed: pip install '.[browser]'")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@dataclass
class OpenPage:
    """A page of the review, with what it logged and requested since it was opened."""

    page: Any
    errors: list[str]
    requests: list[str]


@pytest.fixture
def opened(browser: Any, review: Review) -> Iterator[OpenPage]:
    """The review page in a fresh browser context (its own local storage)."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(review.url)
    page.wait_for_selector("body[data-ready=true]")
    yield OpenPage(page=page, errors=errors, requests=requests)
    context.close()
