"""Training without progress output: dataset bars off (and restored), the renamed-argument warning silenced."""

from __future__ import annotations

import warnings

import datasets

from sage_nb.saeexplainer.training import quiet


def test_quiet_training_turns_dataset_bars_off_and_restores_them():
    assert datasets.is_progress_bar_enabled()
    with quiet(False):
        assert not datasets.is_progress_bar_enabled()
    assert datasets.is_progress_bar_enabled()
    with quiet(True):
        assert datasets.is_progress_bar_enabled()


def test_quiet_training_silences_only_the_renamed_argument_warning():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet(False):
            warnings.warn("`gradient_checkpointing` is deprecated.", FutureWarning, stacklevel=1)
            warnings.warn("something else changed", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something else changed"]
