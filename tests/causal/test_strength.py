"""Strength search on the embedded model: the steering strength found reaches the target KL within tolerance."""

from __future__ import annotations

import pytest
from causal_samples import PROMPTS

from sage_nb.causal import steer, strength_for_kl
from sage_nb.causal.strength import KL_RTOL, KLProbe


@pytest.fixture(scope="module")
def probe(target):
    return KLProbe(target, 743, PROMPTS)


@pytest.mark.parametrize(("kl", "sign"), [(0.5, 1), (0.25, -1)])
def test_reaches_the_target_kl(target, probe, kl, sign):
    fit = strength_for_kl(target, 743, PROMPTS, kl, sign=sign, probe=probe)
    assert fit.converged and abs(fit.kl - kl) <= KL_RTOL * kl
    assert fit.strength * sign > 0 and fit.evaluations == len(fit.history) <= 16
    assert (fit.strength, fit.kl) in fit.history
    # the same strength through steer() gives the same KL
    assert steer(target, 743, PROMPTS, fit.strength, n_tokens=0).kl == pytest.approx(fit.kl, rel=1e-3)


def test_kl_grows_with_strength_along_the_history(target, probe):
    fit = strength_for_kl(target, 743, PROMPTS, 1.0, probe=probe)
    ordered = sorted(fit.history)
    assert [k for _, k in ordered] == sorted(k for _, k in ordered)


def test_bounded_search_reports_what_it_reached(target, probe):
    fit = strength_for_kl(target, 743, PROMPTS, 0.5, max_evals=1, initial=1.0, probe=probe)
    assert not fit.converged and fit.evaluations == 1
    assert fit.strength == 1.0 and 0 < fit.kl < 0.1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kl": 0.0}, ValueError, "target KL"),
        ({"kl": -0.5}, ValueError, "target KL"),
        ({"sign": 0}, ValueError, "sign"),
        ({"max_evals": 0}, ValueError, "max_evals"),
        ({"feature": 4608}, IndexError, "Unknown feature"),
        ({"prompts": []}, ValueError, "No prompt given"),
    ],
)
def test_bad_input_gives_clear_errors(target, kwargs, error, match):
    args = {"feature": 743, "prompts": PROMPTS, "kl": 0.5, **kwargs}
    with pytest.raises(error, match=match):
        strength_for_kl(target, args.pop("feature"), args.pop("prompts"), args.pop("kl"), **args)
