"""The one-shot explainer's prompt and reply schema, and the token/activation format it (and the SAEExplainer) reads.

Strings and lists are bounded so that schema-constrained small models finish inside their token budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, Field

from sage_nb.core.prompting import DATA_RULE
from sage_nb.core.text import visible
from sage_nb.data.records import Exemplar, FeatureData
from sage_nb.evidence import Evidence, feature_scale
from sage_nb.llm.parsing import reply_token_bound

#: Top exemplars the one-shot baseline sees (as many as the SAGE explainer's default).
BASELINE_TOP_K = 10
#: Tokens shown on each side of an exemplar's peak in the baseline's token/activation lists.
BASELINE_SIDE = 8
BaselineDescription = Annotated[str, Field(min_length=10, max_length=200)]
BaselineLabel = Annotated[str, Field(min_length=2, max_length=60)]


class BaselineReply(BaseModel):
    description: BaselineDescription
    labels: list[BaselineLabel] = Field(min_length=1, max_length=3)


#: The baseline's reply token budget: a full reply at the schema's bounds is never cut off.
BASELINE_REPLY_TOKENS = reply_token_bound(BaselineReply)


BASELINE_SYSTEM = (
    "You explain one feature of a sparse autoencoder trained on a language model. You see its top-activating "
    "texts, each between <start> and <end> with one token<TAB>activation line per token: activations are "
    "integers from 0 to 10, relative to the feature's strongest activation, and most are 0. Whitespace in tokens "
    "is shown as ␣ (space) and ↵ (newline). Write a description (one sentence: what makes the feature fire, "
    "citing tokens) and 1 to 3 short labels; use more than one label only when the feature has distinct facets. "
    f"{DATA_RULE}\n"
    "Example: description 'Fires on animal nouns such as cat and dog, most strongly after The.', labels "
    "'animal nouns'."
)


def scaled_act(value: float, scale: float) -> int:
    """An activation as an integer from 0 to 10 of ``scale`` (the feature's top activation)."""
    return min(10, int(round(10 * max(value, 0.0) / scale))) if scale > 0 else 0


def token_act_lines(exemplars: Sequence[Exemplar], scale: float, side: int = BASELINE_SIDE) -> str:
    """Exemplars as token/activation pairs (OpenAI's explainer format, Neuronpedia's ``oai_token-act-pair``).

    Each exemplar is a window of ``side`` tokens around its peak between ``<start>`` and ``<end>``, one
    ``token<TAB>activation`` line per token (token made visible, activation 0-10 of ``scale``).
    """
    blocks = []
    for ex in exemplars:
        lo, hi = max(0, ex.peak - side), min(len(ex.tokens), ex.peak + side + 1)
        lines = [f"{visible(t)}\t{scaled_act(a, scale)}" for t, a in zip(ex.tokens[lo:hi], ex.acts[lo:hi], strict=True)]
        blocks.append("\n".join(["<start>", *lines, "<end>"]))
    return "\n".join(blocks)


def baseline_messages(
    feature_data: FeatureData, top_k: int = BASELINE_TOP_K, use_evidence: bool = True
) -> list[dict[str, str]]:
    """The one-shot baseline's prompt: the evidence SAGE's agent gets (optional) and the top-``top_k`` pairs."""
    evidence = f"Evidence:\n{Evidence.from_feature(feature_data).to_text()}\n\n" if use_evidence else ""
    pairs = token_act_lines(feature_data.top[:top_k], feature_scale(feature_data))
    user = f"{evidence}Top-activating texts (token<TAB>activation, 0-10):\n{pairs}\n\nWrite the explanation."
    return [{"role": "system", "content": BASELINE_SYSTEM}, {"role": "user", "content": user}]
