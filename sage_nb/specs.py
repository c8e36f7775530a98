"""What the command line's strings load: the target to explain, the agent's LLM, and the exemplars a run starts from.

``sage-nb explain`` and ``sage-nb evaluate`` call these in their own process; the batch workers of
:mod:`sage_nb.agent.batch` call the same functions in theirs, so a string means the same thing everywhere.
"""

from __future__ import annotations

from typing import Any


def load_explain_target(sae_path: str | None, target_llm: str | None, device: str) -> Any:
    """The target to explain: a model + SAE, or with ``sae_path="planted"`` the planted features over the
    tokenizer of ``target_llm`` (default: the embedded model's)."""
    if sae_path == "planted":
        from sage_nb.target.planted import load_planted_target

        return load_planted_target(target_llm)
    from sage_nb.target import load_target

    return load_target(model=target_llm, sae=sae_path, device=device)


def make_agent_llm(spec: str, record: str | None, device: str) -> Any:
    """The agent's LLM from a :func:`~sage_nb.llm.make_llm` spec; a local model runs on ``device``."""
    from sage_nb.llm import make_llm

    options = {"device": device} if spec.partition(":")[0] == "local" else {}
    return make_llm(spec, record=record, **options)


def mine_exemplars(target: Any, contexts: int, held_out: bool = False, progress: bool = True) -> Any:
    """The (cached) feature index of ``contexts`` contexts of the default corpus's training (or held-out) split."""
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import default_corpus
    from sage_nb.data.index import load_or_mine

    corpus = default_corpus().split(held_out=held_out)
    return load_or_mine(
        target, corpus_contexts(corpus, target.tokenizer, max_contexts=contexts), corpus.name, progress=progress
    )


def stored_exemplars(target: Any, features: list[int]) -> Any | None:
    """A Neuronpedia target's stored activations of ``features`` as an index; None for targets that mine a corpus."""
    from sage_nb.target.neuronpedia import NeuronpediaTarget

    return target.exemplar_index(features) if isinstance(target, NeuronpediaTarget) else None
