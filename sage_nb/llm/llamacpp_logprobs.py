"""Token logprobs of a llama.cpp completion, read from the logits at each sampling step.

llama-cpp-python reports logprobs only from a context that keeps the logits of every position (``logits_all``),
and then sorts the whole vocabulary in Python at each generated token: one simulation read of the 1.5B model took
51.6 s that way and 23.3 s with the tap, the same reply and logprobs (``benchmarks/logprobs.py``, 2 cores).
:class:`LogitsTap` is a logits processor instead: it
runs first in the sampler chain (before the grammar mask and before sampling), so it sees the model's distribution
at each generated token on the ordinary context. It keeps the ``k`` best alternatives and the log-normaliser, and
:meth:`LogitsTap.logprobs` pairs them with the tokens that were chosen once the completion is done.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sage_nb.llm.base import TokenLogprob


def top_k(logits: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """The ids of the ``k`` largest ``logits`` (at least one), best first, and the log normaliser of the whole
    vector (``logits[i] - norm`` is token ``i``'s logprob)."""
    peak = float(logits.max())
    norm = peak + float(np.log(np.exp(logits - peak).sum()))
    k = min(max(1, k), len(logits))
    top = np.argpartition(-logits, k - 1)[:k]
    return top[np.argsort(-logits[top])], norm


class LogitsTap:
    """A llama-cpp-python logits processor that records the top ``k`` logprobs at every sampling step."""

    def __init__(self, k: int) -> None:
        self.k = max(1, int(k))
        #: Per step: (tokens before it, top ids best first, their logprobs, the full logprob vector's normaliser,
        #: the step's logits).
        self._steps: list[tuple[int, np.ndarray, np.ndarray, float, np.ndarray]] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        logits = np.array(scores, dtype=np.float64)
        top, norm = top_k(logits, self.k)
        self._steps.append((len(input_ids), top, logits[top] - norm, norm, logits))
        return scores

    def logprobs(self, llm: Any, text: str) -> list[TokenLogprob] | None:
        """The chosen tokens of the completion whose reply is ``text``, each with its logprob and the top ``k``
        alternatives (the chosen token added when it is not among them); None when the steps cannot be matched
        with ``text``."""
        if not self._steps:
            return [] if not text else None
        ids = list(llm.input_ids[: llm.n_tokens])
        chosen: list[int] = []
        for length, *_ in self._steps[:-1]:
            if length >= len(ids):
                return None
            chosen.append(int(ids[length]))
        before = b"".join(llm.detokenize([t]) for t in chosen)
        rest = text.encode("utf-8")
        if not rest.startswith(before):
            return None
        rest = rest[len(before) :]
        steps = self._steps
        if rest:  # the last step's token is part of the reply (else it was the end of the turn)
            last = llm.tokenize(rest, add_bos=False, special=True)
            if len(last) != 1:
                return None
            chosen.append(int(last[0]))
        else:
            steps = steps[:-1]
        return self._pair(llm, chosen, steps)

    @staticmethod
    def _pair(llm: Any, chosen: list[int], steps: list[Any]) -> list[TokenLogprob]:
        out, buffer, shown = [], b"", 0
        for token, (_, top, top_lp, norm, logits) in zip(chosen, steps, strict=True):
            buffer += llm.detokenize([token])
            decoded = buffer.decode("utf-8", errors="ignore")
            piece, shown = decoded[shown:], len(decoded)
            logprob = float(logits[token] - norm)
            alternatives: dict[str, float] = {}
            for i, lp in zip(top, top_lp, strict=True):
                alternatives.setdefault(llm.detokenize([int(i)]).decode("utf-8", errors="ignore"), float(lp))
            alternatives.setdefault(piece, logprob)
            out.append(TokenLogprob(piece, logprob, tuple(alternatives.items())))
        return out
