"""Ablation on the embedded model: predictions change at and after the positions where the feature fires, and
nowhere when it does not fire."""

from __future__ import annotations

import pytest
from causal_samples import NONE_FEATURE, NONE_TEXT, PLAIN_TEXT

from sage_nb.causal import ablate


@pytest.fixture(scope="module")
def results(target):
    return ablate(target, NONE_FEATURE, [NONE_TEXT, PLAIN_TEXT])


def test_fired_positions_are_where_the_feature_is_measured(target, results):
    for result in results:
        measured = target.activations(result.text, NONE_FEATURE)[0]
        assert result.tokens == measured.tokens
        assert result.acts == pytest.approx(measured.acts, rel=1e-4, abs=1e-4)
        assert result.fired == [i for i, a in enumerate(measured.acts) if a > 0]


def test_ablating_where_the_feature_fires_changes_predictions(results):
    result = results[0]
    assert [result.tokens[p] for p in result.fired] == [" None", " None"]
    first = result.fired[0]
    # measured: KL 0.058 nats at the first ' None' and 0.16 at the second; exactly 0 before the first
    assert max(result.kl[:first]) < 1e-6
    assert all(result.kl[p] > 1e-2 for p in result.fired)
    assert result.max_kl == max(result.kl)
    effect = result.effects[first]
    assert effect.raised and effect.lowered
    moved = [s.edited_prob - s.clean_prob for s in effect.lowered]
    assert moved == sorted(moved) and moved[0] < 0


def test_ablating_a_feature_that_never_fires_changes_nothing(target, results):
    plain = results[1]
    assert plain.fired == [] and max(plain.kl) < 1e-6
    assert all(not e.raised and not e.lowered for e in plain.effects)
    (other,) = ablate(target, 3317, [NONE_TEXT])  # another feature, silent on this text
    assert other.fired == [] and max(other.kl) < 1e-6


def test_batches_give_the_same_results(target, results):
    one_at_a_time = ablate(target, NONE_FEATURE, [NONE_TEXT, PLAIN_TEXT], batch_size=1)
    for a, b in zip(results, one_at_a_time, strict=True):
        assert a.fired == b.fired and a.kl == pytest.approx(b.kl, rel=1e-3, abs=1e-5)


def test_to_dict_is_json_ready(results):
    import json

    data = json.loads(json.dumps(results[0].to_dict()))
    assert data["fired"] == results[0].fired and len(data["effects"]) == len(results[0].tokens)


@pytest.mark.parametrize(
    ("feature", "texts", "error", "match"),
    [
        (99999, [NONE_TEXT], IndexError, "Unknown feature"),
        (NONE_FEATURE, [], ValueError, "No text given"),
        (NONE_FEATURE, [""], ValueError, "empty text"),
        (NONE_FEATURE, NONE_TEXT, TypeError, "not a single string"),
    ],
)
def test_bad_input_gives_clear_errors(target, feature, texts, error, match):
    with pytest.raises(error, match=match):
        ablate(target, feature, texts)
