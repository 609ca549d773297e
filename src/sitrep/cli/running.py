"""A run from the command line, interactive or through the Batch API: what Ctrl-C does, and
which exit code each error that stops it gets (`sitrep.cli.commands` lists them).

The first Ctrl-C (or SIGTERM) sets the run's stop event and says what stopping means for
that path; a second cancels the run at once. Whatever the ledger was told is kept either way.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from sitrep.cli.options import fail
from sitrep.errors import ConfigurationError, OutputError, SitrepError

Result = TypeVar("Result")


def run_until_stopped(
    work: Callable[[asyncio.Event], Coroutine[Any, Any, Result]],
    out_dir: Path,
    *,
    stopping: str,
    interrupted: str,
) -> Result:
    """Run `work(stop)` to its end; `stopping` is said on the first Ctrl-C, `interrupted`
    when a second one ends it (exit 130)."""

    async def guarded() -> Result:
        stop = asyncio.Event()
        task = asyncio.current_task()
        assert task is not None

        def interrupt() -> None:
            if stop.is_set():
                task.cancel()
                return
            stop.set()
            click.echo(f"\nsitrep: {stopping}", err=True)

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, interrupt)
        loop.add_signal_handler(signal.SIGTERM, interrupt)
        return await work(stop)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        fail(interrupted, code=130)
    except (OutputError, ConfigurationError) as exc:
        fail(str(exc), code=2)
    except SitrepError as exc:  # a call the run itself makes (the Batch API's) kept failing
        fail(
            f"the run stopped: {exc}. What was done is kept; run the same command to go on", code=1
        )
    except (OSError, sqlite3.Error) as exc:
        fail(
            f"the run stopped on an error writing to {out_dir}: {exc}. What was finished "
            "is kept; mend the cause and run the same command to resume",
            code=1,
        )
