"""Causal tests of the SAGE loop: steer the feature on a designer's prompt and judge what the model then says.

A hypothesis about a feature's *output* role ("makes the model say time units") is tested by adding the feature's
decoder direction at its hook site (:func:`sage_nb.causal.steer`) while the model continues a prompt. The code
runs the intervention and records an :class:`~sage_nb.agent.records.Effect`; the LLM only proposes the prompt and
the words it expects to be promoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sage_nb.agent.records import Effect

#: Steering strength as a multiple of the feature's scale: 1.0 adds the feature as strongly as at its top exemplar.
STEER_SCALE = 1.0
#: Most promoted / suppressed next tokens kept in an effect (and searched for expected words).
EFFECT_TOKENS = 8
#: Tokens of the clean and steered continuations.
EFFECT_CONTINUATION = 10


def supports_causal(target: Any) -> bool:
    """Whether ``target`` can be steered (it holds a model and an SAE; planted and API targets cannot)."""
    return hasattr(target, "model") and hasattr(target, "sae") and not getattr(target, "remote", False)


def _words(text: str) -> set[str]:
    return {w.strip(".,;:!?'\"()[]").lower() for w in text.split() if w.strip(".,;:!?'\"()[]")}


def judge_effect(expect: Sequence[str], promoted: Sequence[str], clean: str, steered: str) -> str | None:
    """'ok' when an expected word is a promoted token or new in the steered continuation, else 'miss'."""
    wanted = {w.strip().lower() for w in expect if w.strip()}
    if not wanted:
        return None
    tops = {t.strip().lower() for t in promoted}
    new = _words(steered) - _words(clean)
    return "ok" if wanted & tops or wanted & new else "miss"


def run_effects(
    target: Any, feature: int, tests: Sequence[tuple[str, list[str]]], scale: float, round_: int = 0
) -> list[Effect]:
    """Steer ``feature`` by :data:`STEER_SCALE` x ``scale`` on each (prompt, expected words) and judge the effect."""
    from sage_nb.causal import steer

    strength = STEER_SCALE * scale
    effects = []
    for prompt, expect in tests:
        result = steer(
            target, feature, [prompt], strength, n_tokens=EFFECT_CONTINUATION, top_k=EFFECT_TOKENS, rank_by="prob"
        )
        promoted = [s.token for s in result.promoted]
        effects.append(
            Effect(
                prompt=prompt,
                expect=list(expect),
                strength=round(strength, 4),
                kl=round(float(result.kl), 5),
                promoted=promoted,
                suppressed=[s.token for s in result.suppressed],
                clean=result.clean[0],
                steered=result.steered[0],
                verdict=judge_effect(expect, promoted, result.clean[0], result.steered[0]),
                round=round_,
            )
        )
    return effects
