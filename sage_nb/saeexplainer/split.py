"""Which features train the explainer, which select its checkpoints, and which it is tested on (split by feature).

Features are drawn (seeded) from those that fired in the mined corpus with enough exemplars and a density between
``min_density`` and ``max_density``; the draw is cut into disjoint train / val / test lists.
:func:`check_training_features` is the guard every training set passes through: a val or test feature in it raises.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

SPLITS = ("train", "val", "test")


class LeakError(ValueError):
    """A held-out (val or test) feature was about to be trained on."""


@dataclass(frozen=True)
class FeatureSplit:
    """Disjoint feature lists: ``train`` (SFT and DPO data), ``val`` (checkpoint selection), ``test`` (evaluation)."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]
    seed: int

    def __post_init__(self) -> None:
        seen: dict[int, str] = {}
        for name in SPLITS:
            for f in getattr(self, name):
                if f in seen:
                    raise LeakError(f"feature {f} is in both {seen[f]} and {name}")
                seen[f] = name

    @property
    def held_out(self) -> frozenset[int]:
        """Features that must never enter training (val and test)."""
        return frozenset(self.val) | frozenset(self.test)

    def split_of(self, feature: int) -> str:
        for name in SPLITS:
            if feature in getattr(self, name):
                return name
        raise KeyError(f"feature {feature} is in no split")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSplit:
        return cls(tuple(data["train"]), tuple(data["val"]), tuple(data["test"]), int(data["seed"]))


def split_features(eligible: Sequence[int], n_train: int, n_val: int, n_test: int, seed: int) -> FeatureSplit:
    """A seeded draw of ``n_train + n_val + n_test`` distinct features from ``eligible``, cut into the three lists.

    >>> split_features(range(100), 3, 1, 2, seed=0).train  # doctest: +SKIP
    """
    pool = sorted(set(eligible))
    need = n_train + n_val + n_test
    if len(pool) < need:
        raise ValueError(f"{need} features asked for but only {len(pool)} are eligible; mine more contexts")
    drawn = random.Random(seed).sample(pool, need)
    train, val, test = drawn[:n_train], drawn[n_train : n_train + n_val], drawn[n_train + n_val :]
    return FeatureSplit(tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(test)), seed)


def eligible_features(index: Any, min_exemplars: int, min_density: float, max_density: float) -> list[int]:
    """Features of a mined index with at least ``min_exemplars`` activating contexts and a density (fraction of mined
    tokens they fire on) in ``[min_density, max_density]`` (and above 0)."""
    active = (index.top_values > 0).sum(dim=0)
    density = index.density()
    keep = (active >= min_exemplars) & (density > 0) & (density >= min_density) & (density <= max_density)
    return keep.nonzero().flatten().tolist()


def check_training_features(split: FeatureSplit, features: Iterable[int], what: str) -> None:
    """Raise :class:`LeakError` if any of ``features`` (the features of a training set) is held out."""
    leaked = sorted(set(features) & split.held_out)
    if leaked:
        raise LeakError(f"{what} holds held-out features {leaked}; only train features may be trained on")


__all__ = ["SPLITS", "FeatureSplit", "LeakError", "check_training_features", "eligible_features", "split_features"]
