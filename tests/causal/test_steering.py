"""Steering and clamping on the embedded model: what the decoder direction promotes rises, zero strength is a
no-op, greedy continuations equal HF generate, and batching with padding changes nothing."""

from __future__ import annotations

import pytest
import torch
from causal_samples import NONE_FEATURE, NONE_TEXT, PROMPTS

from sage_nb.causal import Edit, feature_direction, steer
from sage_nb.causal.continuation import greedy
from sage_nb.causal.interventions import prompt_rows, run_edited

#: Features whose direct-path output tokens (decoder direction -> final norm -> unembedding) steering moves
#: most clearly at strength 40 (measured: top-20 promoted minus top-20 suppressed mean logit change
#: +1.18 / -0.52 nats for 3317 at +40 / -40, and +0.55 / -1.31 for 331).
FEATURES = [3317, 331]


@pytest.mark.parametrize("feature", FEATURES)
def test_steering_raises_the_tokens_the_decoder_direction_promotes(target, feature):
    weights = target.output_logit_weights(feature)
    up, down = torch.topk(weights, 20).indices, torch.topk(-weights, 20).indices
    promoted, suppressed = target.top_output_tokens(feature, k=20)
    assert [target.tokenizer.decode([int(i)]) for i in up] == [t for t, _ in promoted]
    assert [target.tokenizer.decode([int(i)]) for i in down] == [t for t, _ in suppressed]
    gaps = {}
    for strength in (40.0, -40.0):
        result = steer(target, feature, PROMPTS, strength, n_tokens=0)
        logit_change = (result.steered_logits - result.clean_logits).mean(dim=0)
        gaps[strength] = float(logit_change[up].mean() - logit_change[down].mean())
        corr = float(torch.corrcoef(torch.stack([weights, logit_change]))[0, 1])
        assert corr * strength > 0  # the whole vocabulary moves with the direct-path weights' sign
    assert gaps[40.0] > 0.3 and gaps[-40.0] < -0.3


def test_strength_zero_changes_nothing(target):
    result = steer(target, 743, PROMPTS, 0.0, n_tokens=6)
    assert result.kl == pytest.approx(0.0, abs=1e-6)
    assert result.kl_per_prompt == pytest.approx([0.0, 0.0], abs=1e-6)
    assert result.steered == result.clean and all(result.clean)
    assert result.promoted == [] and result.suppressed == []
    assert torch.equal(result.steered_logits, result.clean_logits)


def test_steering_changes_kl_continuations_and_reports_shifts(target):
    result = steer(target, 743, PROMPTS, 60.0, n_tokens=6, top_k=5)
    # measured: KL 1.33 nats at strength 60 on these prompts
    assert 0.3 < result.kl < 3.0
    assert result.kl == pytest.approx(sum(result.kl_per_prompt) / 2)
    assert result.steered != result.clean
    assert len(result.promoted) == 5 and len(result.suppressed) == 5
    assert all(s.change > 0 for s in result.promoted) and all(s.change < 0 for s in result.suppressed)
    change = result.logprob_change()
    assert result.promoted[0].change == pytest.approx(float(change.max()), abs=1e-5)
    assert result.suppressed[0].change == pytest.approx(float(change.min()), abs=1e-5)
    by_prob = steer(target, 743, PROMPTS, 60.0, n_tokens=0, top_k=5, rank_by="prob")
    moved = [s.edited_prob - s.clean_prob for s in by_prob.promoted]
    assert moved == sorted(moved, reverse=True) and moved[0] > 0
    data = result.to_dict()
    assert "clean_logits" not in data and data["steered"] == result.steered


def test_clean_continuations_equal_hf_generate(target):
    rows = prompt_rows(target, PROMPTS)
    assert len(rows[0]) != len(rows[1])  # the batch is padded
    ours = greedy(target, rows, [None, None], 6).tokens
    for row, tokens in zip(rows, ours, strict=True):
        ids = torch.tensor([row])
        out = target.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=6,
            pad_token_id=target.tokenizer.pad_token_id,
        )
        assert out[0, len(row) :].tolist() == tokens


def test_batched_steering_equals_one_prompt_at_a_time(target):
    both = steer(target, 743, PROMPTS, 45.0, n_tokens=3)
    for i, prompt in enumerate(PROMPTS):
        alone = steer(target, 743, [prompt], 45.0, n_tokens=3)
        assert alone.steered == [both.steered[i]] and alone.clean == [both.clean[i]]
        assert alone.kl == pytest.approx(both.kl_per_prompt[i], rel=1e-3, abs=1e-5)


def test_steering_from_a_position_leaves_earlier_positions_alone(target):
    rows = prompt_rows(target, [NONE_TEXT])
    run = run_edited(target, rows * 2, [None, Edit(743, 50.0, start=3)])
    before = (run.logits[0, :4] - run.logits[1, :4]).abs().max()  # BOS and text positions 0..2
    after = (run.logits[0, 4:] - run.logits[1, 4:]).abs().max()
    assert float(before) < 1e-4 and float(after) > 1.0
    last_only = steer(target, 743, [NONE_TEXT], 50.0, start=-1, n_tokens=0)
    everywhere = steer(target, 743, [NONE_TEXT], 50.0, n_tokens=0)
    assert 0 < last_only.kl < everywhere.kl


def test_clamp_sets_the_activation_as_an_added_difference(target):
    rows = prompt_rows(target, [NONE_TEXT])
    at = len(rows[0]) - 2  # text position of the last ' None' (the feature fires there)
    value = 80.0
    clamp = run_edited(target, rows, [Edit(NONE_FEATURE, value, "clamp", start=at)])
    act = float(clamp.acts[0, at + 1])
    assert act == pytest.approx(target.activations(NONE_TEXT, NONE_FEATURE)[0].acts[at], rel=1e-4)
    add = run_edited(target, rows, [Edit(NONE_FEATURE, value - act, "add", start=at)])
    assert torch.allclose(clamp.logits, add.logits, atol=1e-3)
    # the direction is one unit of activation in the SAE's reconstruction (decoder rows are rescaled by their norm)
    assert float(feature_direction(target, NONE_FEATURE).norm()) == pytest.approx(1.0, abs=1e-4)


def test_clamp_mode_through_steer(target):
    measured = target.activations("x = None", NONE_FEATURE)[0]
    assert measured.acts[-1] > 0  # fires on the last token, ' None'
    assert steer(target, NONE_FEATURE, ["x = None"], 0.0, mode="clamp", n_tokens=0).kl > 1e-4
    assert steer(target, NONE_FEATURE, ["x ="], 0.0, mode="clamp", n_tokens=0).kl == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"feature": 10**6}, IndexError, "Unknown feature"),
        ({"feature": -1}, IndexError, "Unknown feature"),
        ({"prompts": []}, ValueError, "No prompt given"),
        ({"prompts": ["ok", "  "]}, ValueError, "empty prompt"),
        ({"prompts": "I think that"}, TypeError, "not a single string"),
        ({"mode": "scale"}, ValueError, "Unknown edit mode"),
        ({"rank_by": "kl"}, ValueError, "Unknown ranking"),
        ({"n_tokens": -1}, ValueError, "n_tokens"),
    ],
)
def test_bad_input_gives_clear_errors(target, kwargs, error, match):
    args = {"feature": 743, "prompts": PROMPTS, **kwargs}
    with pytest.raises(error, match=match):
        steer(target, args.pop("feature"), args.pop("prompts"), 10.0, **args)


def test_a_target_without_a_local_model_gives_a_clear_error():
    from sage_nb.causal import ablate, strength_for_kl
    from sage_nb.targets.planted import load_planted_target

    planted = load_planted_target()
    for call in (
        lambda: steer(planted, 0, PROMPTS, 1.0),
        lambda: ablate(planted, 0, PROMPTS),
        lambda: strength_for_kl(planted, 0, PROMPTS, 0.5),
    ):
        with pytest.raises(TypeError, match="no local model"):
            call()


def test_a_remote_target_is_refused_before_anything_runs():
    from types import SimpleNamespace

    remote = SimpleNamespace(sae=None, reader=None, model=None, hook=None, remote=True)
    with pytest.raises(TypeError, match="remotely"):
        steer(remote, 0, ["I think that"], 1.0)
