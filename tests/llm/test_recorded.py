"""Recorded LLMs for notebooks: replay by default, record anew when live, never fall back to a live model."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from sage_nb.llm import ReplayMissing
from sage_nb.llm.recorded import RECORD_ENV, recorded_llm


class Word(BaseModel):
    word: str


@pytest.fixture
def recording(tmp_path, monkeypatch):
    from sage_nb.llm.base import LLMRequest, LLMResult
    from sage_nb.llm.replay import CallRecorder

    monkeypatch.delenv(RECORD_ENV, raising=False)
    path = tmp_path / "rec" / "calls.jsonl"
    request = LLMRequest("a word, please", Word, role="explainer")
    result = LLMResult(True, Word(word="river"), '{"word":"river"}', "explainer", None, "llamacpp",
                       "qwen2.5-coder-1.5b", request.key())  # fmt: skip
    CallRecorder(path).write(request, result)
    return path


def test_replays_by_default_and_says_so(recording):
    llm = recorded_llm(recording)
    result = llm.complete("a word, please", Word, role="explainer")
    assert result.replayed and result.parsed.word == "river" and llm.name == "replay:llamacpp"
    assert llm.size_for("explainer") == "capable"  # the loop runs as it did with the recorded model
    with pytest.raises(ReplayMissing):
        llm.complete("another prompt", Word, role="explainer")  # no silent fall-back to a live model


def test_live_records_anew_into_the_same_file(recording, monkeypatch):
    pytest.importorskip("llama_cpp")
    monkeypatch.setenv(RECORD_ENV, "1")
    llm = recorded_llm(recording, "llamacpp:smollm2-135m", live=False, n_threads=1)  # the script's setting wins
    assert not recording.exists()  # the old recording is replaced
    assert llm.recorder is not None and llm.recorder.path == recording and llm.model == "smollm2-135m"


def test_a_missing_recording_names_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.delenv(RECORD_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="SAGE_NB_RECORD=1"):
        recorded_llm(tmp_path / "none.jsonl")
