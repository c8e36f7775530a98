"""The pair-building rules on hand-made rewards: chosen, rejected, and every reason a feature is dropped."""

from __future__ import annotations

import pytest

from sage_nb.saeexplainer.pairs import DROP_REASONS, PairRules, build_pair, build_pairs
from sage_nb.saeexplainer.rewards import CandidateReward

RULES = PairRules(min_best_fraction=0.1, min_spread=0.10, rejected_gap=0.15)


def rewards(*values: float | None, feature: int = 7) -> list[CandidateReward]:
    return [CandidateReward(feature, "train", f"explanation {i}", v, 4, 1) for i, v in enumerate(values)]


def test_chosen_is_the_best_and_rejected_the_best_of_the_lower_half_past_the_gap():
    # ranked: 10 (e0), 9 (e1), 8 (e2) | lower half: 6 (e3, gap 0.4), 5 (e4), 1 (e5)
    d = build_pair(7, "train", rewards(10, 9, 8, 6, 5, 1), scale=20, rules=RULES)
    assert d.kept and d.reason == "pair"
    assert (d.chosen, d.chosen_reward) == ("explanation 0", 10)
    assert (d.rejected, d.rejected_reward) == ("explanation 3", 6)
    assert (d.best, d.worst) == (10, 1)


def test_an_upper_half_candidate_is_never_rejected_even_with_a_large_gap():
    # ranked: 10, 7 (gap 0.3, upper half), 6.9 | lower half: 6.8, 6.7, 6.6 -> best of the lower half is 6.8
    d = build_pair(7, "train", rewards(10, 7, 6.9, 6.8, 6.7, 6.6), scale=20, rules=RULES)
    assert d.rejected_reward == 6.8


def test_rejected_falls_back_to_the_worst_when_no_lower_half_gap_exceeds_the_threshold():
    # spread (10 - 8.8) / 10 = 0.12 > 0.10 keeps the feature; lower-half gaps 0.10 and 0.12 are <= 0.15
    d = build_pair(7, "train", rewards(10, 9.5, 9.0, 8.8), scale=20, rules=RULES)
    assert d.kept
    assert (d.rejected, d.rejected_reward) == ("explanation 3", 8.8)


def test_two_candidates_pair_best_with_worst():
    d = build_pair(7, "train", rewards(1.0, 4.0), scale=5, rules=RULES)
    assert (d.chosen, d.rejected) == ("explanation 1", "explanation 0")


def test_dropped_too_few_when_fewer_than_two_candidates_have_a_reward():
    d = build_pair(7, "train", rewards(5.0, None, None), scale=5, rules=RULES)
    assert not d.kept and d.reason == "too_few" and d.n_candidates == 1
    assert build_pair(7, "train", [], scale=5, rules=RULES).reason == "too_few"


def test_dropped_weak_when_the_best_is_below_the_threshold_relative_to_the_scale():
    d = build_pair(7, "train", rewards(1.9, 0.5), scale=20, rules=RULES)  # 1.9 < 0.1 * 20
    assert not d.kept and d.reason == "weak"
    assert build_pair(7, "train", rewards(2.0, 0.5), scale=20, rules=RULES).kept  # exactly at the threshold


def test_dropped_weak_when_nothing_fired():
    d = build_pair(7, "train", rewards(0.0, 0.0, 0.0), scale=20, rules=PairRules(min_best_fraction=0.0))
    assert not d.kept and d.reason == "weak"


def test_dropped_flat_when_the_relative_spread_is_at_most_min_spread():
    d = build_pair(7, "train", rewards(10, 9.5, 9.0), scale=20, rules=RULES)  # (10 - 9) / 10 = 0.10
    assert not d.kept and d.reason == "flat"
    assert d.spread == pytest.approx(0.10)
    assert build_pair(7, "train", rewards(10, 9.5, 8.9), scale=20, rules=RULES).kept  # 0.11 > 0.10


def test_ties_keep_the_candidates_order():
    d = build_pair(7, "train", rewards(5, 9, 9, 1), scale=10, rules=RULES)
    assert d.chosen == "explanation 1"
    again = build_pair(7, "train", rewards(5, 9, 9, 1), scale=10, rules=RULES)
    assert (again.chosen, again.rejected) == (d.chosen, d.rejected)


def test_build_pairs_decides_every_feature_including_those_without_rewards():
    found = rewards(10, 2, feature=1) + rewards(3, 3, feature=2)
    decisions = build_pairs(found, scales={1: 10, 2: 10, 3: 10}, splits={1: "train", 2: "val", 3: "train"}, rules=RULES)
    assert [(d.feature, d.split, d.reason) for d in decisions] == [(1, "train", "pair"), (2, "val", "flat"),
                                                                     (3, "train", "too_few")]  # fmt: skip
    assert {d.reason for d in decisions} - {"pair"} <= set(DROP_REASONS)
