"""What every scorer shares: the explanation being scored, the score it returns, held-out samples and measurements.

A :class:`Scorer` takes a :class:`Candidate` (one explainer's explanation of one feature, scored on the same
representation for every explainer: its description or its labels) and an :class:`EvalSetup` (target, LLM,
the exemplars the explainers saw, held-out samples, a measurement cache) and returns a :class:`Score`.
"""

from __future__ import annotations

import json
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sage_nb.core.io import write_json
from sage_nb.core.records import REPRESENTATIONS, Candidate
from sage_nb.data.identity import TargetIdentity, target_identity
from sage_nb.data.records import FeatureData, TokenActivations
from sage_nb.evidence import feature_scale

#: Tokens of a held-out sample window (before and after its peak; zero samples take a random span this long).
SAMPLE_BEFORE, SAMPLE_AFTER = 24, 8


@dataclass
class Score:
    """One metric of one candidate. ``value`` is the headline number (None when it could not be computed)."""

    metric: str
    feature: int
    explainer: str
    value: float | None
    n: int = 0  # items the value is computed over (texts, tokens, contexts ...)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sample:
    """A held-out text with the feature's measured activation on each of its tokens."""

    text: str
    tokens: list[str]
    acts: list[float]
    band: str  # 'top', a quantile band label, or 'zero' (the feature does not fire)
    context: int  # row of the held-out contexts it was cut from

    @property
    def max_act(self) -> float:
        return max(self.acts, default=0.0)

    @property
    def active(self) -> bool:
        return self.max_act > 0


class MeasureCache:
    """Per-token activations of texts on one target, cached in memory and (optionally) in a JSON file.

    New measurements are written by :meth:`save` (:func:`~sage_nb.evaluate.report.evaluate` calls it once per
    feature): measuring is cheap next to the LLM calls, which are cached call by call.
    """

    def __init__(self, target: Any, path: str | Path | None = None) -> None:
        self.target = target
        self.path = Path(path) if path is not None else None
        self._rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self._dirty = False
        self._identity = target_identity(target).to_dict() if self.path is not None else None
        if self.path is not None and self.path.exists():
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if "rows" in saved and "target" in saved:
                if TargetIdentity.from_dict(saved["target"]).key() != TargetIdentity.from_dict(self._identity).key():
                    raise ValueError(
                        f"{self.path} holds measurements of another target "
                        f"({TargetIdentity.from_dict(saved['target']).describe()}, not "
                        f"{TargetIdentity.from_dict(self._identity).describe()}): use another output_dir"
                    )
                self._rows = saved["rows"]
            else:  # written before measurements named their target: start again rather than trust them
                self._dirty = bool(saved)

    @staticmethod
    def _key(feature: int, text: str) -> str:
        return f"{feature}\x1f{text}"

    def measure(self, texts: Sequence[str], feature: int) -> list[TokenActivations]:
        """Activations of ``feature`` on each text (measured once per text, then cached)."""
        texts = list(texts)
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if self._key(feature, t) not in self._rows))
            self.hits += len(texts) - len(todo)
            self.misses += len(todo)
        if todo:
            rows = self.target.activations(todo, feature, truncate=True)
            with self._lock:
                for row in rows:
                    self._rows[self._key(feature, row.text)] = {"tokens": row.tokens, "acts": row.acts}
                self._dirty = True
        out = []
        for text in texts:
            row = self._rows[self._key(feature, text)]
            out.append(TokenActivations(text, list(row["tokens"]), list(row["acts"])))
        return out

    def save(self) -> None:
        """Write the cache file if there are new measurements (no-op without a path)."""
        if self.path is None or not self._dirty:
            return
        with self._lock:
            write_json(self.path, {"target": self._identity, "rows": self._rows})
            self._dirty = False


def held_out_samples(
    target: Any,
    index: Any,
    feature: int,
    *,
    active: int = 12,
    zeros: int = 8,
    seed: int = 0,
    exclude: Sequence[int] = (),
    measure: MeasureCache | None = None,
) -> list[Sample]:
    """Held-out texts for one feature: ``active`` ones spread over its activation quantile bands and ``zeros``
    random spans where it does not fire, cut from ``index``'s contexts (mine the held-out split for this).

    Contexts in ``exclude`` (e.g. the exemplars an explainer saw) are skipped. Each text is re-measured, so its
    activations are those of the text itself. Seeded; the same arguments give the same samples.
    """
    rng = random.Random(f"{seed}:{feature}")
    measure = measure or MeasureCache(target)
    skip = set(exclude)
    bands = index.quantile_samples(feature, target.token_strings, bands=4)
    top = index.exemplars(feature, target.token_strings, k=3)
    pools = [(label, [ex for ex in exs if ex.context_index not in skip]) for label, exs in bands]
    pools.append(("top", [ex for ex in top if ex.context_index not in skip]))
    chosen: list[tuple[str, int, list[str]]] = []
    seen: set[int] = set()
    while len(chosen) < active and any(pool for _, pool in pools):
        for label, pool in pools:
            if pool and len(chosen) < active:
                ex = pool.pop(rng.randrange(len(pool)))
                if ex.context_index not in seen:
                    seen.add(ex.context_index)
                    chosen.append((label, ex.context_index, ex.tokens))
    texts = ["".join(tokens) for _, _, tokens in chosen]
    samples = []
    for (label, ctx, _), row in zip(chosen, measure.measure(texts, feature), strict=True):
        if row.tokens:
            samples.append(Sample(row.text, row.tokens, row.acts, label, ctx))
    samples += _zero_samples(target, index, feature, zeros, rng, skip | seen, measure)
    return samples


def _zero_samples(
    target: Any, index: Any, feature: int, n: int, rng: random.Random, skip: set[int], measure: MeasureCache
) -> list[Sample]:
    rows = [r for r in range(len(index.contexts)) if r not in skip]
    rng.shuffle(rows)
    span = SAMPLE_BEFORE + SAMPLE_AFTER + 1
    out: list[Sample] = []
    for start in range(0, len(rows), max(n, 1) * 2):
        if len(out) >= n:
            break
        batch = rows[start : start + max(n, 1) * 2]
        texts = []
        for r in batch:
            ids = index.contexts[r, 1:].tolist()
            at = rng.randrange(0, max(1, len(ids) - span))
            texts.append("".join(target.token_strings(ids[at : at + span])))
        for r, row in zip(batch, measure.measure(texts, feature), strict=True):
            if len(out) < n and row.tokens and row.max_act <= 0:
                out.append(Sample(row.text, row.tokens, row.acts, "zero", r))
    return out


@dataclass
class EvalSetup:
    """Everything a scorer needs besides the candidate."""

    target: Any
    llm: Any  # an LLMBackend
    feature_data: FeatureData  # what the explainers saw (top exemplars); its scale anchors thresholds
    samples: list[Sample] = field(default_factory=list)  # held-out texts (see held_out_samples)
    measure: MeasureCache | None = None
    representation: str = "description"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.measure is None:
            self.measure = MeasureCache(self.target)
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"Unknown representation {self.representation!r}: use one of {REPRESENTATIONS}")

    @property
    def feature(self) -> int:
        return self.feature_data.index

    @property
    def scale(self) -> float:
        """The feature's own scale (its top exemplar's activation)."""
        return feature_scale(self.feature_data)

    def mean_top_max(self, k: int = 10) -> float:
        """Mean maximum activation of the top ``k`` exemplars."""
        top = self.feature_data.top[:k]
        return sum(ex.max_act for ex in top) / len(top) if top else 0.0


class Scorer(ABC):
    """One metric. Subclasses set :attr:`name` and implement :meth:`score`."""

    name: ClassVar[str] = "scorer"

    @abstractmethod
    def score(self, candidate: Candidate, setup: EvalSetup) -> Score:
        """Score ``candidate`` (its ``setup.representation`` text) on ``setup.feature``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
