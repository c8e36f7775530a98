"""Bounded waits: a server that is down or never answers is reported at once with its URL; a call has a budget;
waiting calls say so; a malformed URL is refused; the placeholder key is no secret."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from llm_test_servers import FAST, free_port, status
from pydantic import BaseModel

from sage_nb.llm import LLMUnavailable, RetryPolicy, make_llm
from sage_nb.llm.errors import redact
from sage_nb.llm.openai_backend import NO_KEY, REACHABLE_TIMEOUT_S
from sage_nb.llm.retry import waiting_notes


class Answer(BaseModel):
    answer: str


@pytest.fixture
def silent_server():
    """Accepts connections and reads requests, never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_a_closed_port_is_reported_at_once_with_its_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = make_llm(f"openai-compatible:m@{url}")  # the default policy: the check alone decides
    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match=f"nothing answers at {url} .*connection error.*start the"):
        llm.complete("q", Answer, role="r")
    assert time.monotonic() - start < 5


def test_a_server_that_never_answers_is_reported_within_the_check(silent_server):
    llm = make_llm(f"openai-compatible:m@{silent_server}")
    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match=f"server at {silent_server} did not answer within"):
        llm.check_reachable()
    assert time.monotonic() - start < REACHABLE_TIMEOUT_S + 3


def test_an_error_status_counts_as_an_answer_and_calls_name_the_url(fault_server):
    llm = make_llm(f"openai-compatible:m@{fault_server.base_url}", retry=FAST)
    llm.check_reachable()  # GET /models gets HTTP 501 from this server: it answers
    fault_server.default = status(500)
    with pytest.raises(LLMUnavailable, match=f"failed 3 times; last error: HTTP 500.*{fault_server.base_url}"):
        llm.complete("q", Answer, role="r")


def test_the_budget_stops_retries_of_one_call(fault_server):
    policy = RetryPolicy(max_attempts=10, initial_delay_s=0.3, max_delay_s=0.3, jitter=0.0, budget_s=1.0)
    llm = make_llm(f"openai-compatible:m@{fault_server.base_url}", retry=policy)
    fault_server.default = status(503)
    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match="no retry left in the call's budget of 1 s"):
        llm.complete("q", Answer, role="r")
    assert time.monotonic() - start < 2.0 and len(fault_server.requests) < 10


def test_a_malformed_url_is_refused_when_the_backend_is_made():
    for spec in (
        "openai-compatible:x@not a url",
        "openai-compatible:x@ftp://h/v1",
        "openai-compatible:x@http://h:p/v1",
    ):
        with pytest.raises(ValueError, match="is not a server URL: expected http"):
            make_llm(spec)


def test_the_placeholder_key_is_no_secret(fault_server, monkeypatch):
    monkeypatch.delenv("SAGE_NB_LLM_API_KEY", raising=False)
    make_llm(f"openai-compatible:m@{fault_server.base_url}")
    assert redact(f"the key is {NO_KEY}") == f"the key is {NO_KEY}"


def test_waiting_calls_say_so(caplog):
    with caplog.at_level(logging.INFO, logger="sage_nb.llm.retry"), waiting_notes("the LLM at X", 0.05, 0.1):
        time.sleep(0.3)
    notes = [r.getMessage() for r in caplog.records if "still waiting" in r.getMessage()]
    assert notes and notes[0].startswith("still waiting on the LLM at X after")
    count = len(notes)
    time.sleep(0.2)
    assert len([r for r in caplog.records if "still waiting" in r.getMessage()]) == count  # stopped with the call
