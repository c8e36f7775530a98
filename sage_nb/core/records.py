"""Records that cross layers: :class:`Candidate`, one explainer's explanation of one feature.

Explainers make candidates, scorers score them, targets that come with stored explanations (Neuronpedia) list them,
and views show them; so the record lives here, below all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sage_nb.core.text import names_token

#: What of an explanation is scored: the description sentence, or the labels joined.
Representation = Literal["description", "labels"]
REPRESENTATIONS: tuple[Representation, ...] = ("description", "labels")


@dataclass
class Candidate:
    """One explainer's explanation of one feature."""

    feature: int
    explainer: str  # 'sage', 'baseline', 'neuronpedia', a user's name ...
    description: str
    labels: list[str] = field(default_factory=list)

    def text(self, representation: Representation = "description") -> str:
        """The text a scorer shows the LLM: the description, or the labels joined by '; '."""
        if representation not in REPRESENTATIONS:
            raise ValueError(f"Unknown representation {representation!r}: use one of {REPRESENTATIONS}")
        if representation == "labels":
            return "; ".join(self.labels) if self.labels else self.description
        return self.description or "; ".join(self.labels)

    def names_any(self, tokens: Sequence[str], include_short: bool = False) -> bool:
        """Whether the description or a label names one of ``tokens`` whole (:func:`~sage_nb.core.text.names_token`;
        ``include_short`` also counts quoted one-character tokens and whitespace called by name)."""
        return names_token(" ".join([self.description, *self.labels]), tokens, include_short=include_short)

    @classmethod
    def from_run(cls, state: Any, explainer: str = "sage") -> Candidate:
        """The explanation of a finished SAGE run (:class:`~sage_nb.agent.RunState`)."""
        if state.explanation is None:
            raise ValueError(f"the run on feature {state.feature} has no explanation ({state.stop_reason})")
        return cls(state.feature, explainer, state.explanation.description, list(state.explanation.labels))
