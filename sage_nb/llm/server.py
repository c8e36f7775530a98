"""Serve an embedded model (or any GGUF) over an OpenAI-compatible HTTP API with llama.cpp's own server, so several
notebooks share one loaded model: ``sage-nb serve-llm qwen2.5-coder-1.5b`` in a terminal, then
``make_llm("openai-compatible:qwen2.5-coder-1.5b@http://127.0.0.1:8080/v1")`` anywhere.

:class:`LlamaServer` starts and stops that server from Python (tests use it on a free loopback port).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sage_nb.llm.embedded import resolve_gguf
from sage_nb.llm.llamacpp_backend import default_threads, require_llama_cpp

DEFAULT_PORT = 8080


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_argv(
    model: str, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, n_ctx: int = 8192, n_threads: int | None = None
) -> tuple[str, list[str]]:
    """(served model name, command line) of llama.cpp's server for an embedded model's name or a ``.gguf`` path."""
    require_llama_cpp()
    name, path = resolve_gguf(model)
    threads = str(n_threads or default_threads())
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", name]
    argv += ["--host", host, "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", threads]
    argv += ["--n_threads_batch", threads]
    return name, argv


class LlamaServer:
    """llama.cpp's OpenAI-compatible server in a child process; a context manager that waits until it answers."""

    def __init__(
        self,
        model: str = "smollm2-135m",
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        log: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.name, self.argv = server_argv(model, host=host, port=self.port, n_ctx=n_ctx, n_threads=n_threads)
        self.log = Path(log) if log is not None else None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def spec(self) -> str:
        """The :func:`~sage_nb.llm.make_llm` spec that talks to this server."""
        return f"openai-compatible:{self.name}@{self.base_url}"

    def start(self, timeout_s: float = 120.0) -> LlamaServer:
        """Start the server and wait (at most ``timeout_s``) until ``GET /v1/models`` answers."""
        out = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        self._proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"llama.cpp's server exited with code {self._proc.returncode}: {' '.join(self.argv)}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"llama.cpp's server did not answer on {self.base_url} within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Stop the server (terminate, then kill after 10 s)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
