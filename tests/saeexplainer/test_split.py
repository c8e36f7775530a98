"""Features are split by feature, seeded, and no held-out feature can enter a training set."""

from __future__ import annotations

import pytest

from sage_nb.saeexplainer.split import (
    FeatureSplit,
    LeakError,
    check_training_features,
    eligible_features,
    split_features,
)


@pytest.mark.parametrize("seed", range(20))
def test_the_three_lists_are_disjoint_and_sized(seed):
    split = split_features(range(500), n_train=16, n_val=4, n_test=6, seed=seed)
    train, val, test = set(split.train), set(split.val), set(split.test)
    assert (len(train), len(val), len(test)) == (16, 4, 6)
    assert not train & val and not train & test and not val & test
    assert split.held_out == val | test


def test_the_split_is_seeded():
    assert split_features(range(300), 5, 2, 3, seed=4) == split_features(range(300), 5, 2, 3, seed=4)
    assert split_features(range(300), 5, 2, 3, seed=4) != split_features(range(300), 5, 2, 3, seed=5)


def test_too_few_eligible_features_is_an_error():
    with pytest.raises(ValueError, match="eligible"):
        split_features(range(5), 4, 1, 1, seed=0)


def test_a_feature_in_two_lists_is_refused():
    with pytest.raises(LeakError):
        FeatureSplit(train=(1, 2), val=(2,), test=(3,), seed=0)


def test_a_held_out_feature_in_a_training_set_raises():
    split = FeatureSplit(train=(1, 2), val=(3,), test=(4,), seed=0)
    check_training_features(split, [1, 2], "pairs")
    for leaked in (3, 4):
        with pytest.raises(LeakError, match=str(leaked)):
            check_training_features(split, [1, leaked], "pairs")


def test_the_split_round_trips_through_json():
    split = split_features(range(100), 3, 2, 1, seed=1)
    assert FeatureSplit.from_dict(split.to_dict()) == split
    assert {split.split_of(f) for f in split.train} == {"train"}


def test_eligible_features_respect_density_bounds_and_exemplar_count(small_index):
    density = small_index.density()
    active = (small_index.top_values > 0).sum(dim=0)
    chosen = eligible_features(small_index, min_exemplars=3, min_density=0.001, max_density=0.02)
    assert chosen
    for f in chosen:
        assert 0.001 <= float(density[f]) <= 0.02 and int(active[f]) >= 3
