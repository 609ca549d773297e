"""The session's real model server: SmolLM2-135M behind llama-cpp-python, started once.

Without llama-cpp-python or the model the live tests are skipped, naming the install command.
The server's output goes to a file the tests read: its access log shows the status of every
request it answered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sitrep.testing.localmodel import (
    LocalModelNotInstalledError,
    LocalModelServer,
    LocalModelSettings,
)

# Room for the compact prompt with the schema (some 3,700 SmolLM2 tokens), a short article and
# the re-asks; SmolLM2-135M was trained on 8,192.
N_CTX = 8192
N_THREADS = 2
_SETTLE, _SETTLE_LIMIT = 0.5, 10.0  # seconds
# One access-log line per answered request, as uvicorn writes it.
_ACCESS = re.compile(r'"POST (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


@dataclass
class LiveServer:
    server: LocalModelServer
    log: Path

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def model(self) -> str:
        return self.server.model

    def log_size(self) -> int:
        return self.log.stat().st_size

    def statuses_since(self, offset: int) -> list[int]:
        """The status of every chat completion the server answered since `offset` in its log.

        The server logs a request after answering it, so its client may be done first: the log
        is read once it has stopped growing for a moment.
        """
        size, deadline = -1, time.monotonic() + _SETTLE_LIMIT
        while size != self.log_size() and time.monotonic() < deadline:
            size = self.log_size()
            time.sleep(_SETTLE)
        with self.log.open("rb") as stream:
            stream.seek(offset)
            text = stream.read().decode("utf-8", errors="replace")
        return [
            int(match["status"])
            for match in _ACCESS.finditer(text)
            if match["path"].endswith("/chat/completions")
        ]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("localmodel") / "server.log"
    settings = LocalModelSettings(n_ctx=N_CTX, n_threads=N_THREADS, log=log)
    server = LocalModelServer(settings)
    try:
        server.start()
    except LocalModelNotInstalledError as exc:
        pytest.skip(f"live tests need a local model: {exc}")
    try:
        yield LiveServer(server, log)
    finally:
        server.stop()
