"""Rewards are measured on the real target: a text's score is its maximum activation with special tokens masked;
a candidate's reward is its best text."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from sage_nb.saeexplainer import prompts
from sage_nb.saeexplainer.config import ExplainerTrainingConfig
from sage_nb.saeexplainer.rewards import (
    CandidateExplanation,
    RewardText,
    candidate_rewards,
    measure_texts,
    text_score,
    write_texts,
)

TEXT = "The meeting ended early<|im_end|> and everyone went home before the rain started."


@pytest.fixture(scope="module")
def raw(target):
    """Unmasked SAE activations of TEXT (BOS included) and where its special token sits."""
    ids, mask = target.tokenize([TEXT])
    with torch.no_grad():
        acts = target.sae.encode(target.reader.read(ids, mask)).float()[0].cpu()  # [seq, d_sae]
    special = torch.isin(ids[0], torch.tensor(target.tokenizer.all_special_ids))
    special[0] = True  # BOS
    return ids[0], acts, special


def test_the_text_holds_a_special_token_in_the_middle(raw, target):
    ids, _, special = raw
    assert target.tokenizer.convert_tokens_to_ids("<|im_end|>") in ids[1:].tolist()
    assert bool(special[1:].any()) and not bool(special[-1])


def test_the_score_is_the_max_over_ordinary_tokens_even_where_a_special_token_fires_higher(raw, target):
    _, acts, special = raw
    masked = acts.masked_fill(special.unsqueeze(-1), 0.0).max(dim=0).values
    unmasked = acts[1:].max(dim=0).values  # BOS aside, special tokens included
    # the feature the special token drives hardest above everything else in the text
    feature = int(torch.argmax(unmasked - masked))
    assert float(unmasked[feature]) > float(masked[feature]) + 1.0  # masking matters for this feature
    row = target.activations(TEXT, feature, truncate=True)[0]
    assert text_score(row) == pytest.approx(float(masked[feature]), rel=1e-4, abs=1e-4)
    measured = measure_texts(target, [RewardText(feature, "e", 0, TEXT, None)])
    assert measured[0].max_act == pytest.approx(float(masked[feature]), rel=1e-4, abs=1e-4)
    print(f"feature {feature}: special-token activation {float(unmasked[feature]):.3f}, "
          f"reward {measured[0].max_act:.3f}")  # fmt: skip


def test_a_candidates_reward_is_its_best_text_and_failed_texts_are_left_out(raw, target):
    _, acts, special = raw
    feature = int(torch.argmax(acts.masked_fill(special.unsqueeze(-1), 0.0).max(dim=0).values))
    texts = [
        RewardText(feature, "good", 0, TEXT, None),
        RewardText(feature, "good", 1, "Numbers and letters, nothing else at all.", None),
        RewardText(feature, "good", 2, "", None, error="truncated: cut off"),
        RewardText(feature, "silent", 0, "", None, error="truncated: cut off"),
    ]
    measured = measure_texts(target, texts)
    assert measured[2].max_act is None and measured[3].max_act is None
    candidates = [CandidateExplanation(feature, "train", i, t) for i, t in enumerate(["good", "good", "silent", ""])]
    by_text = {r.explanation: r for r in candidate_rewards(candidates, measured)}
    assert set(by_text) == {"good", "silent"}  # the empty sample has no reward row
    good = by_text["good"]
    assert good.reward == max(measured[0].max_act, measured[1].max_act) and good.reward > 0
    assert (good.n_texts, good.samples) == (2, 2) and good.notes == ["1 of 3 text(s) not written"]
    assert by_text["silent"].reward is None and by_text["silent"].n_texts == 0


class _Recorder:
    """A stand-in LLM that records the requests and answers each with its own seed."""

    def __init__(self):
        self.requests = []

    def complete_many(self, requests, raise_unavailable=True):
        self.requests += requests
        return [SimpleNamespace(ok=True, parsed=SimpleNamespace(text=f"  text   seed {r.seed} "), error=None,
                                error_kind=None) for r in requests]  # fmt: skip


def test_reward_requests_ask_one_bounded_text_per_seed():
    cfg = ExplainerTrainingConfig(reward_texts=3, reward_min_words=15, reward_max_words=30, seed=2)
    llm = _Recorder()
    texts = write_texts(llm, [(5, "the word None"), (6, "commas")], cfg, progress=False)
    assert len(llm.requests) == 6
    assert [r.seed for r in llm.requests] == [2000, 2000, 2001, 2001, 2002, 2002]
    assert {r.temperature for r in llm.requests} == {cfg.reward_temperature}
    assert llm.requests[0].schema is prompts.reward_schema(30)
    assert "15 to 30 words" in llm.requests[0].messages[0]["content"]
    assert "'the word None'" in llm.requests[0].messages[-1]["content"]
    assert [(t.feature, t.explanation, t.index, t.text) for t in texts[:2]] == [
        (5, "the word None", 0, "text seed 2000"), (6, "commas", 0, "text seed 2000")]  # fmt: skip
