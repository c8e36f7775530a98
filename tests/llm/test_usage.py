"""Token and cost accounting: prices, groups, JSON and DataFrame output, fed by real HTTP calls."""

from __future__ import annotations

import json

import pytest
from llm_test_servers import reply
from pydantic import BaseModel

from sage_nb.llm import DEFAULT_PRICES, Price, Usage, UsageTracker, make_llm
from sage_nb.llm.usage import find_price


class Answer(BaseModel):
    answer: str


def test_default_prices_cover_the_common_models():
    for name in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5", "gpt-5-mini", "local"):
        assert name in DEFAULT_PRICES
    assert DEFAULT_PRICES["local"].cost(Usage(10**6, 10**6)) == 0.0


def test_price_lookup_uses_the_longest_prefix():
    assert find_price("gpt-4o-mini-2024-07-18", DEFAULT_PRICES) is DEFAULT_PRICES["gpt-4o-mini"]
    assert find_price("gpt-4o-2024-08-06", DEFAULT_PRICES) is DEFAULT_PRICES["gpt-4o"]
    assert find_price("gpt-5-mini", DEFAULT_PRICES) is DEFAULT_PRICES["gpt-5-mini"]
    assert find_price("gpt-4omni", DEFAULT_PRICES) is None
    assert find_price("my-model", DEFAULT_PRICES) is None


def test_cost_counts_cached_prompt_tokens_at_the_cached_rate():
    price = Price(input=2.0, output=10.0, cached_input=0.5)
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=100_000, cached_tokens=400_000)
    assert price.cost(usage) == pytest.approx(0.6 * 2.0 + 0.4 * 0.5 + 0.1 * 10.0)
    assert Price(1.0, 1.0).cost(Usage(1000, 0, 1000)) == pytest.approx(0.001)  # no discount given


def test_tracker_sums_real_calls_per_role_feature_and_run(fault_server, api_key, tmp_path):
    fault_server.default = reply('{"answer": "x"}', prompt_tokens=100, completion_tokens=20, cached_tokens=40)
    tracker = UsageTracker(prices={"fake-model": Price(input=1.0, output=2.0, cached_input=0.25)}, run_id="r1")
    llm = make_llm(f"openai-compatible:fake-model@{fault_server.base_url}", tracker=tracker, api_key_env="X_NO_KEY")
    for role, feature in [("explainer", "f1"), ("explainer", "f2"), ("analyzer", "f1"), ("analyzer", None)]:
        assert llm.complete("q", Answer, role=role, feature=feature).ok

    total = tracker.total()
    assert (total.calls, total.prompt_tokens, total.completion_tokens, total.cached_tokens) == (4, 400, 80, 160)
    per_call = (60 * 1.0 + 40 * 0.25 + 20 * 2.0) / 1e6
    assert total.cost_usd == pytest.approx(4 * per_call)
    assert {k: v.calls for k, v in tracker.by_role().items()} == {"explainer": 2, "analyzer": 2}
    assert {k: v.prompt_tokens for k, v in tracker.by_feature().items()} == {"f1": 200, "f2": 100, "(none)": 100}

    path = tracker.to_json(tmp_path)
    assert path.name == "token_usage.json"
    data = json.loads(path.read_text())
    assert data["run_id"] == "r1"
    assert data["run"]["total_tokens"] == 480
    assert data["per_role"]["analyzer"]["completion_tokens"] == 40
    assert len(data["calls"]) == 4 and data["calls"][0]["model"] == "fake-model"
    assert data["prices_usd_per_mtok"]["fake-model"]["input"] == 1.0

    frame = tracker.to_frame()
    assert len(frame) == 4
    assert {"role", "feature", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_usd"} <= set(frame.columns)
    assert frame.groupby("role")["prompt_tokens"].sum().to_dict() == {"analyzer": 200, "explainer": 200}


def test_unknown_model_is_counted_without_cost(fault_server):
    llm = make_llm(f"openai-compatible:mystery@{fault_server.base_url}", api_key_env="X_NO_KEY")
    result = llm.complete("q", Answer, role="r")
    assert result.ok and result.cost_usd is None
    total = llm.tracker.total()
    assert total.unpriced_calls == 1 and total.unpriced_models == ["mystery"] and total.cost_usd == 0.0


def test_make_llm_prices_override_the_defaults(fault_server):
    llm = make_llm(
        f"openai-compatible:gpt-4o@{fault_server.base_url}",
        prices={"gpt-4o": Price(input=1000.0, output=0.0)},
        api_key_env="X_NO_KEY",
    )
    fault_server.default = reply('{"answer": "x"}', prompt_tokens=1000, completion_tokens=0)
    assert llm.complete("q", Answer, role="r").cost_usd == pytest.approx(1.0)
    assert DEFAULT_PRICES["gpt-4o"].input == 2.5  # the defaults themselves are untouched


def test_empty_tracker_outputs(tmp_path):
    tracker = UsageTracker()
    assert tracker.total().calls == 0
    assert tracker.to_frame().empty
    assert json.loads(tracker.to_json(tmp_path / "u.json").read_text())["calls"] == []
