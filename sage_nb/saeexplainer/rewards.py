"""Activation rewards: an LLM writes texts that express a candidate explanation; the target measures them.

For each candidate the LLM writes ``reward_texts`` texts, each one sampled reply (seeded; texts are cleaned with the
GEN scorer's :func:`~sage_nb.evaluate.generation.clean_texts`). A text's score is the feature's maximum activation
over its tokens as :meth:`Target.activations` measures it (BOS, padding and special tokens read 0); a candidate's
reward is the best score of its texts. A candidate whose texts all failed has no reward (``None``) and a note.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from sage_nb.data.records import TokenActivations
from sage_nb.evaluate.generation import clean_texts
from sage_nb.llm.base import LLMRequest
from sage_nb.saeexplainer import prompts
from sage_nb.saeexplainer.config import ExplainerTrainingConfig

#: The LLM role tag of reward-text calls.
ROLE = "reward_text"


@dataclass
class CandidateExplanation:
    """One sampled explanation of a feature in one round (``index`` counts samples; duplicates share a reward)."""

    feature: int
    split: str  # 'train' or 'val'
    index: int
    text: str


@dataclass
class RewardText:
    """A text the LLM wrote for one explanation, and the feature's maximum activation on it (None if not written)."""

    feature: int
    explanation: str
    index: int
    text: str
    max_act: float | None
    error: str | None = None


@dataclass
class CandidateReward:
    """An explanation's reward: the best maximum activation among its texts (None when no text was written)."""

    feature: int
    split: str
    explanation: str
    reward: float | None
    n_texts: int
    samples: int  # how many of the round's samples were this explanation
    best_text: str = ""
    notes: list[str] = field(default_factory=list)


def text_score(row: TokenActivations) -> float:
    """A reward text's score: its maximum token activation (special tokens are already 0 in ``row``)."""
    return float(row.max_act)


def _requests(explanations: Sequence[tuple[int, str]], cfg: ExplainerTrainingConfig) -> list[LLMRequest[Any]]:
    schema = prompts.reward_schema(cfg.reward_max_words)
    return [
        LLMRequest(
            messages=prompts.reward_messages(text, cfg.reward_min_words, cfg.reward_max_words),
            schema=schema,
            role=ROLE,
            feature=str(feature),
            temperature=cfg.reward_temperature,
            seed=cfg.seed * 1000 + j,
            max_tokens=prompts.reward_reply_tokens(cfg.reward_max_words),
        )
        for j in range(cfg.reward_texts)  # one seed per batch of requests: a local backend batches equal seeds
        for feature, text in explanations
    ]


def write_texts(
    llm: Any, explanations: Sequence[tuple[int, str]], cfg: ExplainerTrainingConfig, progress: bool = True
) -> list[RewardText]:
    """The LLM's ``cfg.reward_texts`` texts for each ``(feature, explanation)``, not yet measured."""
    requests = _requests(explanations, cfg)
    chunk = max(1, cfg.llm_batch_size) * 4
    results = []
    bar = tqdm(total=len(requests), desc="reward texts", unit="text", disable=not progress)
    for start in range(0, len(requests), chunk):
        part = requests[start : start + chunk]
        results += llm.complete_many(part, raise_unavailable=True)
        bar.update(len(part))
    bar.close()
    out = []
    n = len(explanations)
    for i, result in enumerate(results):
        feature, explanation = explanations[i % n]
        j = i // n
        if not result.ok or result.parsed is None:
            out.append(RewardText(feature, explanation, j, "", None, f"{result.error_kind}: {result.error}"))
            continue
        kept, _ = clean_texts([result.parsed.text])
        if not kept:
            out.append(RewardText(feature, explanation, j, "", None, "the LLM wrote an empty text"))
        else:
            out.append(RewardText(feature, explanation, j, kept[0], None))
    return out


def measure_texts(target: Any, texts: Sequence[RewardText], batch_size: int = 16) -> list[RewardText]:
    """``texts`` with ``max_act`` measured on ``target`` (texts that were not written stay None)."""
    by_feature: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(texts):
        if t.error is None:
            by_feature[t.feature].append(i)
    out = list(texts)
    for feature, rows in by_feature.items():
        measured = target.activations([texts[i].text for i in rows], feature, truncate=True, batch_size=batch_size)
        for i, row in zip(rows, measured, strict=True):
            t = texts[i]
            out[i] = RewardText(t.feature, t.explanation, t.index, t.text, text_score(row))
    return out


def candidate_rewards(candidates: Sequence[CandidateExplanation], texts: Sequence[RewardText]) -> list[CandidateReward]:
    """One reward per distinct (feature, explanation): the best measured text, in first-sample order."""
    by_key: dict[tuple[int, str], list[RewardText]] = defaultdict(list)
    for t in texts:
        by_key[(t.feature, t.explanation)].append(t)
    samples: dict[tuple[int, str], list[CandidateExplanation]] = defaultdict(list)
    for c in candidates:
        if c.text:
            samples[(c.feature, c.text)].append(c)
    out = []
    for (feature, text), group in samples.items():
        written = by_key.get((feature, text), [])
        measured = [t for t in written if t.max_act is not None]
        missing = len(written) - len(measured)
        notes = [f"{missing} of {len(written)} text(s) not written"] if missing else []
        if not measured:
            out.append(CandidateReward(feature, group[0].split, text, None, 0, len(group), "", notes or ["no texts"]))
            continue
        best = max(measured, key=lambda t: t.max_act or 0.0)
        out.append(
            CandidateReward(feature, group[0].split, text, best.max_act, len(measured), len(group), best.text, notes)
        )
    return out


__all__ = [
    "CandidateExplanation",
    "CandidateReward",
    "RewardText",
    "candidate_rewards",
    "measure_texts",
    "text_score",
    "write_texts",
]
