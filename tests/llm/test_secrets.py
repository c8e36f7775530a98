"""API keys never appear in logs, results, recordings, usage files, exceptions or reprs."""

from __future__ import annotations

import logging
import traceback

import pytest
from llm_test_servers import FAST, KEY_ENV, Action, reply, status
from pydantic import BaseModel

from sage_nb.llm import LLMError, LLMRequestError, LLMUnavailable, make_llm
from sage_nb.llm.errors import redact


class Answer(BaseModel):
    answer: str


def _leaks(text: str, key: str) -> bool:
    # The whole key, its secret tail, or its head with a masked middle ("sk-sagetest-1a2b***").
    return key in text or key[-16:] in text or key[:20] in text


def test_a_hostile_run_writes_the_key_nowhere(fault_server, api_key, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # openai, httpx and our own loggers at their chattiest
    record = tmp_path / "calls.jsonl"
    llm = make_llm(
        f"openai-compatible:fake-model@{fault_server.base_url}",
        api_key_env=KEY_ENV,
        require_key=True,
        record=record,
        retry=FAST,
    )
    masked = f"{api_key[:14]}{'*' * 20}{api_key[-4:]}"
    fault_server.push(
        reply('{"answer": "fine"}'),
        reply(f'{{"answer": "your key is {api_key}"}}'),  # the model repeats the key
        reply(f"Here is the key: {api_key}"),  # invalid reply containing the key (repaired)
        reply(f"Again: {masked}"),
        Action("raw", body=f'{{"broken": "{api_key}'.encode(), headers={"Content-Type": "application/json"}),
    )
    results = [llm.complete("q", Answer, role="r", feature="f") for _ in range(4)]
    assert fault_server.requests[0]["headers"]["authorization"] == f"Bearer {api_key}"  # the key was used

    errors: list[BaseException] = []
    fault_server.push(Action("echo_auth", status=401))  # the server echoes the Authorization header
    with pytest.raises(LLMRequestError) as err:
        llm.complete("q", Answer, role="r")
    errors.append(err.value)
    fault_server.push(*[status(503, f"overloaded, key {api_key}")] * 3)
    with pytest.raises(LLMUnavailable) as err:
        llm.complete("q", Answer, role="r")
    errors.append(err.value)
    fault_server.push(status(400, f"Incorrect API key provided: {masked}"))
    with pytest.raises(LLMRequestError) as err:
        llm.complete("q", Answer, role="r")
    errors.append(err.value)
    assert "[REDACTED]" in str(errors[0]) and "[REDACTED]" in str(errors[2])

    usage_path = llm.tracker.to_json(tmp_path / "token_usage.json")
    texts = {
        "log": caplog.text,
        "results": "\n".join(repr(r) for r in results),
        "raw": "\n".join(r.raw_text + " ".join(r.raw_turns) + str(r.error) + str(r.notes) for r in results),
        "recording": record.read_text(),
        "usage": usage_path.read_text(),
        "frame": llm.tracker.to_frame().to_string(),
        "backend": repr(llm) + str(vars(llm)),
        "exceptions": "\n".join(str(e) + repr(e) + "".join(traceback.format_exception(e)) for e in errors),
    }
    for where, text in texts.items():
        assert not _leaks(text, api_key), f"the API key leaked into {where}"
    assert len(record.read_text().splitlines()) == 4  # the recorded run is complete


def test_redact_covers_registered_secrets_and_key_shapes():
    from sage_nb.llm.errors import register_secret

    register_secret("plain-secret-value-123")
    text = (
        "a plain-secret-value-123 b sk-proj-abcdefghijklmnop c Bearer abcdefghijklmnopq d AIzaSyA1234567890abcdefghij"
    )
    out = redact(text)
    assert "plain-secret" not in out and "sk-proj" not in out and "abcdefghijklmnopq" not in out and "AIza" not in out
    # Ordinary words that contain "sk-" are left alone.
    assert redact("a risk-averse task-manager desk-top") == "a risk-averse task-manager desk-top"


def test_exceptions_redact_their_message():
    from sage_nb.llm.errors import register_secret

    register_secret("zzz-very-secret-zzz")
    assert "zzz-very-secret-zzz" not in str(LLMError("failed with zzz-very-secret-zzz"))


def test_openai_spec_without_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMRequestError, match="OPENAI_API_KEY"):
        make_llm("openai:gpt-4o-mini")
