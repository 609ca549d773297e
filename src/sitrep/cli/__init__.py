"""The command line: `sitrep extract`, `run`, `export` and `schemas` (`commands`), and what
`sitrep run` shows while it works and when it ends (`display`)."""

from sitrep.cli.commands import main

__all__ = ["main"]
