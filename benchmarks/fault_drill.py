"""Fault drill: bad inputs and broken LLM servers, tried as a new user would, each outcome classified.

Starts its own servers on 127.0.0.1 (garbage, HTTP 500, ``{}``, hang-then-close, accept-and-never-answer, and a
closed port), runs ``sage-nb`` subprocesses and API calls against them and with bad inputs, and classifies each case:

- ``clear``: refused or failed with a one-line error (CLI: non-zero exit, last stderr line ``sage-nb CMD: error: …``
  or argparse's ``error:``; API: an exception of an expected kind with a one-line message);
- ``raw_traceback``: a Python traceback on stderr, or an unexpected exception type;
- ``silent_wrong``: it succeeded although it should not have (a run written as finished for a failed LLM, a run of
  other settings returned, an index of another target accepted).

Every case is bounded (``CASE_TIMEOUT_S``); its wall time counts as a hang for the LLM-fault cases. The last line is
``silent_wrong=<n> raw_tracebacks=<n> max_hang_s=<s> help_s=<s>`` (goals: 0, 0, <= 30, <= 1).

    OMP_NUM_THREADS=1 python benchmarks/fault_drill.py
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

CASE_TIMEOUT_S = 120.0
Verdict = Literal["clear", "raw_traceback", "silent_wrong", "hang"]


# -- loopback servers ----------------------------------------------------------------------------------------------
class Loopback:
    """A raw TCP server on 127.0.0.1 answering every request with ``behaviour`` (its own thread per connection)."""

    def __init__(self, behaviour: Literal["garbage", "http500", "empty", "hang_close", "silent"]) -> None:
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        self._held.append(conn)
        try:
            conn.settimeout(5)
            while True:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), 0)  # fmt: skip
                while len(body) < length:
                    body += conn.recv(65536)
                if self.behaviour == "silent":
                    self._stop.wait(CASE_TIMEOUT_S)
                    return
                if self.behaviour == "hang_close":
                    self._stop.wait(60)
                    return
                status, payload = {
                    "garbage": (200, b"\x00\xffnot json at all <html>"),
                    "http500": (500, b'{"error": {"message": "internal error"}}'),
                    "empty": (200, b"{}"),
                }[self.behaviour]
                conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, len(payload), payload))  # fmt: skip
        except OSError:
            return
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


# -- cases ---------------------------------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    verdict: Verdict
    seconds: float
    detail: str
    llm_fault: bool = False


def run_cli(name: str, args: list[str], expect_folder: Path | None = None, llm_fault: bool = False) -> Case:
    """``sage-nb ARGS`` as a subprocess; it must fail (non-zero) with a one-line error and write no finished run."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "sage_nb.cli", *args], capture_output=True, text=True,
                              timeout=CASE_TIMEOUT_S, env=env)  # fmt: skip
    except subprocess.TimeoutExpired:
        return Case(name, "hang", time.monotonic() - start, f"no answer in {CASE_TIMEOUT_S:.0f} s", llm_fault)
    seconds = time.monotonic() - start
    err = done.stderr.strip()
    last = err.splitlines()[-1] if err else ""
    finished = expect_folder is not None and any(expect_folder.rglob("structured_results.json"))
    if done.returncode == 0 or finished:
        verdict: Verdict = "silent_wrong"
    elif "Traceback (most recent call last)" in err:
        verdict = "raw_traceback"
    elif " error: " in last or last.startswith("sage-nb"):
        verdict = "clear"
    else:
        verdict = "raw_traceback"
    return Case(name, verdict, seconds, f"rc={done.returncode} {last[:160]}", llm_fault)


EXPECTED = (ValueError, TypeError, IndexError, KeyError, FileNotFoundError)


def run_api(name: str, call: Callable[[], Any], llm_fault: bool = False) -> Case:
    """An API call that must raise an expected exception with a one-line message."""
    from sage_nb.llm.errors import LLMError

    start = time.monotonic()
    try:
        call()
    except (*EXPECTED, LLMError) as err:
        text = str(err)
        verdict: Verdict = "clear" if text and "\n" not in text else "raw_traceback"
        return Case(name, verdict, time.monotonic() - start, f"{type(err).__name__}: {text[:160]}", llm_fault)
    except Exception as err:  # an unexpected kind: what a user would see as a raw traceback
        return Case(name, "raw_traceback", time.monotonic() - start, f"{type(err).__name__}: {err}"[:200], llm_fault)
    return Case(name, "silent_wrong", time.monotonic() - start, "returned normally", llm_fault)


def help_seconds(runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "sage_nb.cli", "--help"], capture_output=True, check=True)
        times.append(time.monotonic() - start)
    return statistics.median(times)


def cli_cases(work: Path, servers: dict[str, Loopback]) -> list[Case]:
    # the planted digit feature fires in these contexts, so a run needs its LLM (the mined index is cached)
    planted = ["--sae_path", "planted", "--contexts", "300"]
    cases = []
    for name, url in [*((n, s.url) for n, s in servers.items()), ("closed port", closed_url())]:
        out = work / f"explain_{name}"
        args = ["explain", *planted, "--features", "digit", "--agent_llm", f"openai-compatible:m@{url}",
                "--output_dir", str(out)]  # fmt: skip
        cases.append(run_cli(f"cli explain, LLM {name}", args, out, llm_fault=True))
    args = ["evaluate", *planted, "--features", "2", "--llm", f"openai-compatible:x@{closed_url()}",
            "--output_dir", str(work / "eval")]  # fmt: skip
    cases.append(run_cli("cli evaluate, LLM closed port", args, llm_fault=True))
    cases.append(run_cli("cli explain, URL not a url", ["explain", *planted, "--features", "0", "--agent_llm",
                                                         "openai-compatible:x@not a url"]))  # fmt: skip
    cases.append(run_cli("cli --device bogus", ["explain", *planted, "--features", "0", "--device", "bogus"]))
    cases.append(run_cli("cli --device cuda", ["explain", *planted, "--features", "0", "--device", "cuda"]))
    cases.append(run_cli("cli --workers 2 --devices cuda:0,cuda:1", ["explain", *planted, "--features", "0,1",
                         "--workers", "2", "--devices", "cuda:0,cuda:1"]))  # fmt: skip
    for label, content in [("a JSON list", "[1]"), ("broken JSON", '{"2": '), ("a non-integer key", '{"x": "y"}')]:
        path = work / f"expl_{len(cases)}.json"
        path.write_text(content)
        cases.append(run_cli(f"cli evaluate --explanations {label}", ["evaluate", *planted, "--features", "2",
                             "--explanations", str(path)]))  # fmt: skip
    cases.append(run_cli("cli evaluate --scorers foo", ["evaluate", *planted, "--features", "2", "--scorers", "foo"]))
    sae = work / "broken_sae"
    sae.mkdir()
    (sae / "cfg.json").write_text("{broken")
    cases.append(run_cli("cli SAE with broken cfg.json", ["mine", "--sae_path", str(sae)]))
    cases.append(run_cli("cli unknown feature", ["explain", *planted, "--features", "99"]))
    return cases


def api_cases(work: Path, servers: dict[str, Loopback]) -> list[Case]:
    import numpy as np

    from sage_nb.agent import AgentConfig, explain
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import corpus_from
    from sage_nb.data.index import mine
    from sage_nb.llm import make_llm
    from sage_nb.targets.planted import PlantedTarget, load_planted_target

    planted = load_planted_target()
    texts = ["On Monday we met at 10, and on Friday at 3.", "The report came on Thursday.", "x = [1, 2]  # two"]
    contexts = corpus_contexts(corpus_from(texts, name="drill"), planted.tokenizer, context_tokens=24, use_cache=False)
    index = mine(planted, contexts, top_k=5, samples=4, progress=False, corpus_name="drill")
    fewer = PlantedTarget(planted.tokenizer, planted.features[:6], model_name=planted.model_name)
    cases = []
    for name, server in servers.items():
        llm = make_llm(f"openai-compatible:m@{server.url}")
        out = work / f"api_{name}"
        cases.append(run_api(f"api explain, LLM {name}", lambda llm=llm, out=out: explain(
            planted, 0, llm, index=index, output_dir=out), llm_fault=True))  # fmt: skip
        if any(out.rglob("structured_results.json")):
            cases[-1].verdict, cases[-1].detail = "silent_wrong", "a failed run was written as finished"

    # identity: a finished run, then the same folder with other settings must be refused
    garbage_free = make_llm(f"replay:{_recording(work, planted, index)}")
    out = work / "identity"
    explain(planted, 0, garbage_free, index=index, output_dir=out)
    cases.append(run_api("api explain, other agent settings", lambda: explain(
        planted, 0, garbage_free, index=index, output_dir=out, config=AgentConfig(use_evidence=False))))  # fmt: skip
    cases.append(run_api("api explain, other SAE into the same folder", lambda: explain(
        fewer, 0, garbage_free, index=mine(fewer, contexts, progress=False), output_dir=out)))  # fmt: skip
    cases.append(run_api("api index of another target", lambda: index.feature_data(fewer, 0)))
    cases.append(run_api("api explain, index of another target", lambda: explain(fewer, 0, garbage_free, index=index)))
    cases.append(run_api("api feature=[1, 2]", lambda: explain(planted, [1, 2], garbage_free, index=index)))
    for label, text in [("None", None), ("bytes", b"Monday"), ("a lone surrogate", "Mon\ud800day")]:
        cases.append(run_api(f"api text={label}", lambda text=text: planted.activations(text, feature=0)))
    cases.append(run_api("api make_llm('openai-compatible:x@not a url')",
                         lambda: make_llm("openai-compatible:x@not a url")))  # fmt: skip
    ok = planted.activations("Monday", feature=np.int64(0))  # must work: a NumPy integer is a feature index
    cases.append(Case("api feature=np.int64(0)", "clear" if ok[0].max_act > 0 else "silent_wrong", 0.0, "measured"))
    return cases


def _recording(work: Path, planted: Any, index: Any) -> Path:
    """A recorded run of a scripted, competent agent (so the identity cases need no LLM server)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "agent"))
    from scripted import ScriptedLLM, truthful

    from sage_nb.agent import explain
    from sage_nb.llm.replay import CallRecorder

    path = work / "calls.jsonl"
    llm = ScriptedLLM(truthful)
    llm.recorder = CallRecorder(path)
    explain(planted, 0, llm, index=index)
    return path


def main() -> None:
    servers = {b: Loopback(b) for b in ("garbage", "http500", "empty", "hang_close", "silent")}  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="fault_drill_") as tmp:
        work = Path(tmp)
        help_s = help_seconds()
        cases = cli_cases(work, servers) + api_cases(work, servers)
    for server in servers.values():
        server.stop()
    for case in cases:
        print(json.dumps({"case": case.name, "verdict": case.verdict, "seconds": round(case.seconds, 1),
                          "detail": case.detail}))  # fmt: skip
    silent = sum(c.verdict == "silent_wrong" for c in cases)
    raw = sum(c.verdict == "raw_traceback" for c in cases)
    max_hang = max((c.seconds for c in cases if c.llm_fault or c.verdict == "hang"), default=0.0)
    print(f"silent_wrong={silent} raw_tracebacks={raw} max_hang_s={max_hang:.1f} help_s={help_s:.2f}")


if __name__ == "__main__":
    main()
