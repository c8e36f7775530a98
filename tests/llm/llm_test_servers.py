"""Real HTTP servers on 127.0.0.1 for the LLM tests: a scripted fault server and a `transformers serve` process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sage_nb.llm import RetryPolicy

#: Retries in milliseconds so fault tests stay fast; one HTTP attempt may take at most 1 s.
FAST = RetryPolicy(max_attempts=3, initial_delay_s=0.001, max_delay_s=0.005, jitter=0.5, timeout_s=1.0)
#: Environment variable that holds the tests' fake API key.
KEY_ENV = "SAGE_NB_TEST_LLM_KEY"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def completion_body(
    content: Any,
    *,
    finish_reason: str = "stop",
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    cached_tokens: int = 0,
    logprobs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A chat completion as an OpenAI server sends it."""
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": finish_reason,
    }
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens},
        },
    }


@dataclass
class Action:
    """What the fault server does with one request."""

    kind: str  # "json" | "raw" | "hang" | "drop" | "echo" | "echo_auth"
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0  # "hang": how long before closing; others: delay before answering


def reply(content: Any, *, delay: float = 0.0, **kw: Any) -> Action:
    return Action("json", body=completion_body(content, **kw), seconds=delay)


def echo(delay: float = 0.0) -> Action:
    """Answer ``{"answer": <the last user message>}``."""
    return Action("echo", seconds=delay)


def status(code: int, message: str = "error", headers: dict[str, str] | None = None) -> Action:
    return Action("json", status=code, body={"error": {"message": message, "type": "test"}}, headers=headers or {})


def raw(body: bytes, status_code: int = 200, content_type: str = "application/json") -> Action:
    return Action("raw", status=status_code, body=body, headers={"Content-Type": content_type})


def hang(seconds: float) -> Action:
    return Action("hang", seconds=seconds)


def drop() -> Action:
    return Action("drop")


class FaultServer:
    """A scripted OpenAI-compatible chat server: each request takes the next action (then ``default``)."""

    def __init__(self) -> None:
        self.script: deque[Action] = deque()
        self.default: Action = reply('{"answer": "ok"}')
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms per answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                self._body = body
                with server._lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    server.requests.append({"path": self.path, "headers": headers, "body": body})
                    action = server.script.popleft() if server.script else server.default
                self._perform(action)

            def _send(self, code: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(code)
                headers = {"Content-Type": "application/json", **headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _perform(self, action: Action) -> None:
                if action.kind == "hang":
                    time.sleep(action.seconds)
                    self.close_connection = True
                    return
                if action.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                time.sleep(action.seconds)
                if action.kind == "echo":
                    last = [m for m in self._body["messages"] if m["role"] == "user"][-1]["content"]
                    body = completion_body(json.dumps({"answer": last}))
                    self._send(200, json.dumps(body).encode(), {})
                    return
                if action.kind == "raw":
                    self._send(action.status, action.body, action.headers)
                    return
                if action.kind == "echo_auth":  # a hostile server that repeats the caller's credentials
                    auth = self.headers.get("Authorization", "")
                    body = {"error": {"message": f"Incorrect API key provided: {auth}"}}
                    self._send(action.status, json.dumps(body).encode(), {})
                    return
                self._send(action.status, json.dumps(action.body).encode(), action.headers)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def push(self, *actions: Action) -> None:
        with self._lock:
            self.script.extend(actions)


class TransformersServe:
    """`transformers serve MODEL_DIR` as a child process on a free loopback port (one CPU thread)."""

    def __init__(self, model_dir: Path, log_path: Path) -> None:
        self.model_dir = model_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 180.0) -> TransformersServe:
        exe = Path(sys.executable).with_name("transformers")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        cmd = [str(exe), "serve", str(self.model_dir), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--device", "cpu", "--log-level", "info"]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"transformers serve did not come up in {timeout_s} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
