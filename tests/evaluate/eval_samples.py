"""Planted-feature data shared by the evaluation tests (a module with a unique name, importable from any test)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "agent"))

from scripted import CORPUS  # noqa: E402

#: Texts with numbers of many lengths, so the digit feature's top-10 exemplars differ in strength.
DIGIT_CORPUS = [
    *CORPUS,
    "Room 7 is on the left, next to the stairs.",
    "The train leaves at 12 and arrives at 3 in the afternoon.",
    "He paid 450 dollars for the old bicycle last spring.",
    "The code 98213 opened the gate at the back of the yard.",
    "Population grew to 1234567 people by the end of the century.",
    "We counted 64 birds and 9 squirrels in the park.",
    "Call 5551234 after lunch to book a table.",
    "Chapter 21 begins with a storm at sea.",
    "Only 3 of the 15 players scored in the final game.",
    "The vault held 8000 coins and 77 rings.",
    "She was born in 1987 in a small town by the lake.",
]


def mined_feature_data(planted, name: str, corpus: list[str] = DIGIT_CORPUS, k: int = 10):
    """(index, FeatureData with the top ``k`` exemplars) of a planted feature mined over ``corpus``."""
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import corpus_from
    from sage_nb.data.index import mine

    contexts = corpus_contexts(
        corpus_from(corpus, name="eval-test"), planted.tokenizer, context_tokens=24, use_cache=False
    )
    index = mine(planted, contexts, top_k=k, samples=4, progress=False)
    return index, index.feature_data(planted, planted.feature(name).index, k=k)
