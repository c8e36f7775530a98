"""Reply parsing and validation: valid replies parse, and fuzzed bad replies never crash."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fuzz_replies import fuzz_replies
from pydantic import BaseModel
from role_schemas import AnalyzerReply, ExplainerReply, ReviewerReply

from sage_nb.llm.parsing import MAX_ERROR_CHARS, compact_schema_text, parse_reply

VALID = {
    AnalyzerReply: {"reason": "fires on name in 9 of 10", "verdict": "accept"},
    ExplainerReply: {"hypotheses": [{"kind": "token", "text": "the token name"}, {"kind": "topic", "text": "people"}]},
    ReviewerReply: {"issues": ["too broad"], "score": 7},
}
ERROR_KINDS = {"empty", "not_json", "invalid"}


@pytest.mark.parametrize("schema", list(VALID))
def test_valid_reply_parses(schema):
    parsed = parse_reply(json.dumps(VALID[schema]), schema)
    assert parsed.ok and parsed.error is None
    assert parsed.value.model_dump() == schema.model_validate(VALID[schema]).model_dump()


def test_fenced_and_prose_wrapped_json_is_extracted_with_a_note():
    good = json.dumps(VALID[AnalyzerReply])
    for text in (f"```json\n{good}\n```", f"Sure, here you go:\n{good}\nThanks!", f"```\n{good}```"):
        parsed = parse_reply(text, AnalyzerReply)
        assert parsed.ok, text
        assert parsed.value.verdict == "accept"
        assert parsed.notes == ["JSON taken from inside surrounding text"]


def test_error_kinds():
    assert parse_reply("", AnalyzerReply).error_kind == "empty"
    assert parse_reply(None, AnalyzerReply).error_kind == "empty"
    assert parse_reply("I think it is accept.", AnalyzerReply).error_kind == "not_json"
    bad = parse_reply('{"reason": "x", "verdict": "maybe"}', AnalyzerReply)
    assert bad.error_kind == "invalid"
    assert "verdict" in bad.error and "maybe" not in bad.error  # names the field, does not echo the input


def test_error_text_is_bounded_for_many_errors():
    class Many(BaseModel):
        a: int
        b: int
        c: int
        d: int
        e: int
        f: int
        g: int

    parsed = parse_reply("{}", Many)
    assert parsed.error_kind == "invalid"
    assert "and 2 more errors" in parsed.error
    assert len(parsed.error) <= MAX_ERROR_CHARS


def test_compact_schema_keeps_a_property_called_title():
    class Doc(BaseModel):
        title: str
        body: str

    text = compact_schema_text(Doc)
    schema = json.loads(text)
    assert set(schema["properties"]) == {"title", "body"}
    assert "title" not in schema["properties"]["body"]  # the keyword is gone, the property stays
    assert " " not in text


@pytest.mark.parametrize("schema", list(VALID))
def test_fuzzed_replies_never_crash(schema):
    """At least 200 malformed replies per schema: every one gives a Parsed result, none raises."""
    outcomes: Counter[str] = Counter()
    n = 240
    for strategy, text in fuzz_replies(VALID[schema], n=n, seed=20251121):
        parsed = parse_reply(text, schema)  # an exception here is a crash: the test fails
        if parsed.ok:
            assert isinstance(parsed.value, schema), strategy
            schema.model_validate(parsed.value.model_dump())  # what we return is valid
            assert parsed.error is None
            outcomes["ok"] += 1
        else:
            assert parsed.value is None
            assert parsed.error_kind in ERROR_KINDS, (strategy, parsed.error_kind)
            assert isinstance(parsed.error, str) and 0 < len(parsed.error) <= MAX_ERROR_CHARS + 20
            outcomes[parsed.error_kind] += 1
    assert sum(outcomes.values()) == n
    # The generator really produces bad replies of every kind (and some harmless ones).
    assert outcomes["invalid"] > 20 and outcomes["not_json"] > 20 and outcomes["empty"] >= 2
    assert outcomes["ok"] > 0
