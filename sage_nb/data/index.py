"""The feature index: one pass over a corpus that records, for every feature at once, its top-activating
contexts, a uniform sample of its activating contexts (for quantile bands), its firing frequency and a
histogram of its activations. Saved to disk and reloaded; no feature ever needs its own corpus scan.

Per batch the pass costs one forward to the hooked layer, one SAE encode and a few ``topk``/``gather``
calls over ``[candidates, n_features]`` tensors, so it runs at close to the speed of the bare forward.

An index knows what it was mined from: ``meta["identity"]`` is the target's
:class:`~sage_nb.data.identity.TargetIdentity` (model, hook, SAE; planted features carry their version), beside the
corpus name and a digest of the mined contexts. :meth:`FeatureIndex.feature_data` refuses a target whose identity
differs (:class:`IndexMismatch`), and the disk cache of :func:`load_or_mine` is keyed by that identity, so another
SAE never reads this one's index. An index saved before identities were recorded holds only the labels; it is
checked on those and used with a warning (``load_or_mine`` mines a new one, since its cache key changed).
"""

from __future__ import annotations

import hashlib
import json
import operator
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from sage_nb.config import cache_dir
from sage_nb.data.identity import TargetIdentity, contexts_digest, target_identity
from sage_nb.data.records import Exemplar, FeatureData

#: Histogram bin edges (log-spaced) shared by all features, in activation units.
HIST_EDGES = np.logspace(-3, 4, 71)
#: Tokens shown before and after the peak in an exemplar window.
WINDOW_BEFORE, WINDOW_AFTER = 24, 8


class IndexMismatch(ValueError):
    """An index mined from another target (model, hook or SAE) was given for this one."""


def band_label(lo: float, hi: float, top: float) -> str:
    """The label of an activation band from ``lo`` to ``hi`` as fractions of the feature's ``top`` activation."""
    return f"{lo / top:.0%}–{hi / top:.0%} of max"


@dataclass
class FeatureIndex:
    """Per-feature statistics from one mining pass (tensors are indexed ``[slot, feature]``)."""

    contexts: np.ndarray  # [n_contexts, seq] token ids mined (BOS first)
    top_values: torch.Tensor  # [k, F] max activation of each top context, descending
    top_context: torch.Tensor  # [k, F] context row
    top_acts: torch.Tensor  # [k, F, seq] fp16 activations of the feature over that context
    sample_values: torch.Tensor  # [r, F] max activation of uniformly sampled activating contexts (0 = empty)
    sample_context: torch.Tensor  # [r, F]
    sample_acts: torch.Tensor  # [r, F, seq] fp16
    fire_counts: torch.Tensor  # [F] tokens with activation > 0
    hist_counts: torch.Tensor  # [F, bins]
    n_tokens: int  # tokens mined (BOS excluded)
    meta: dict  # identity (TargetIdentity as a dict), corpus name, contexts digest; sae/model/hook labels

    @property
    def d_sae(self) -> int:
        return self.top_values.shape[1]

    def density(self) -> torch.Tensor:
        """Fraction of mined tokens on which each feature fires."""
        return self.fire_counts.double() / max(self.n_tokens, 1)

    def live_features(self) -> list[int]:
        """Features that fired at least once in the mined corpus."""
        return torch.nonzero(self.fire_counts > 0).flatten().tolist()

    def to_frame(self):
        """One row per feature: ``max_activation``, ``density``, ``fires`` (a pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "max_activation": self.top_values[0].numpy(),
                "density": self.density().numpy(),
                "fires": self.fire_counts.numpy(),
            }
        ).rename_axis("feature")

    def _check(self, feature: int) -> int:
        """``feature`` as a plain int (NumPy integers too), or IndexError naming the valid range."""
        try:
            index = operator.index(feature) if not isinstance(feature, bool) else None
        except TypeError:
            index = None
        if index is None or not 0 <= index < self.d_sae:
            raise IndexError(f"Unknown feature {feature!r}: this index covers features 0..{self.d_sae - 1}")
        return index

    @property
    def target(self) -> TargetIdentity | None:
        """The identity of the target this index was mined from (None for an index saved before it was recorded)."""
        data = self.meta.get("identity")
        return TargetIdentity.from_dict(data) if isinstance(data, dict) else None

    def identity(self) -> dict:
        """What a run's exemplars depend on besides the target: corpus, mined contexts and slots kept per feature."""
        digest = self.meta.get("contexts_digest") or contexts_digest(np.ascontiguousarray(self.contexts))
        return {
            "corpus": self.meta.get("corpus"),
            "contexts_digest": digest,
            "top_k": int(self.top_values.shape[0]),
            "samples": int(self.sample_values.shape[0]),
        }

    def check_target(self, target) -> None:
        """Raise :class:`IndexMismatch` unless this index was mined from ``target`` (see the module docstring)."""
        now = target_identity(target)
        mined = self.target
        if mined is not None:
            if not mined.same_as(now):
                raise IndexMismatch(
                    f"this index was mined from {mined.describe()}, but the target is {now.describe()}: mine an "
                    "index for this target (load_or_mine(target, contexts, corpus_name) or mine(target, contexts))"
                )
            return
        legacy = {"model": now.model, "sae": now.sae, "hook": now.hook}
        differ = [k for k, v in legacy.items() if k in self.meta and str(self.meta[k]) != v]
        if differ:
            was = ", ".join(f"{k} {self.meta[k]!r}" for k in differ)
            raise IndexMismatch(
                f"this index was mined with {was}, but the target is {now.describe()}: mine an index for this target "
                "(load_or_mine(target, contexts, corpus_name))"
            )
        warnings.warn(
            "this index was saved before indexes recorded the SAE's identity, so only its labels could be checked; "
            "mine it again (load_or_mine) to record it",
            stacklevel=3,
        )

    def _window(self, ctx: int, acts: torch.Tensor, token_strings) -> Exemplar:
        peak = int(acts.float().argmax())
        lo, hi = max(1, peak - WINDOW_BEFORE), min(len(acts), peak + WINDOW_AFTER + 1)
        ids = self.contexts[ctx, lo:hi].tolist()
        return Exemplar(ctx, token_strings(ids), [round(float(a), 4) for a in acts[lo:hi]], peak - lo)

    def exemplars(self, feature: int, token_strings, k: int | None = None) -> list[Exemplar]:
        """Top contexts of ``feature`` as windows around their peak token, strongest first."""
        feature = self._check(feature)
        vals = self.top_values[:, feature]
        n = int((vals > 0).sum()) if k is None else min(k, int((vals > 0).sum()))
        return [
            self._window(int(self.top_context[i, feature]), self.top_acts[i, feature], token_strings) for i in range(n)
        ]

    def quantile_samples(self, feature: int, token_strings, bands: int = 4) -> list[tuple[str, list[Exemplar]]]:
        """The sampled activating contexts split into ``bands`` bands by activation, weakest band first."""
        feature = self._check(feature)
        vals = self.sample_values[:, feature]
        order = [int(i) for i in torch.argsort(vals) if vals[i] > 0]
        if not order:
            return []
        top = float(self.top_values[0, feature])
        groups = np.array_split(np.array(order), min(bands, len(order)))
        out = []
        for group in groups:
            label = band_label(float(vals[group[0]]), float(vals[group[-1]]), top)
            out.append(
                (
                    label,
                    [
                        self._window(int(self.sample_context[i, feature]), self.sample_acts[i, feature], token_strings)
                        for i in group
                    ],
                )
            )
        return out

    def histogram(self, feature: int) -> tuple[list[float], list[int]]:
        """Bin edges and counts of the feature's positive activations (empty outer bins trimmed)."""
        feature = self._check(feature)
        counts = self.hist_counts[feature].tolist()
        nz = [i for i, c in enumerate(counts) if c]
        if not nz:
            return [], []
        lo, hi = nz[0], nz[-1] + 1
        return [float(e) for e in HIST_EDGES[lo : hi + 1]], counts[lo:hi]

    def feature_data(self, target, feature: int, k: int = 10) -> FeatureData:
        """Everything the feature view needs for one feature (decoder-side tokens come from ``target``).

        Raises :class:`IndexMismatch` when the index was mined from another target.
        """
        feature = self._check(feature)
        self.check_target(target)
        edges, counts = self.histogram(feature)
        promoted, suppressed = target.top_output_tokens(feature)
        return FeatureData(
            index=feature,
            max_activation=float(self.top_values[0, feature]),
            density=float(self.density()[feature]),
            hist_edges=edges,
            hist_counts=counts,
            top=self.exemplars(feature, target.token_strings, k),
            quantiles=self.quantile_samples(feature, target.token_strings),
            promoted=promoted,
            suppressed=suppressed,
        )

    # -- persistence -------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the index to ``path`` (a ``.pt`` file; written atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        state = dict(self.__dict__)
        state["contexts"] = torch.from_numpy(self.contexts)
        torch.save(state, tmp)
        tmp.rename(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureIndex:
        state = torch.load(Path(path), weights_only=False)
        state["contexts"] = state["contexts"].numpy()
        return cls(**state)


def _merge(
    keys: torch.Tensor,
    ctx: torch.Tensor,
    acts: torch.Tensor,
    new_keys: torch.Tensor,
    new_ctx: torch.Tensor,
    batch_acts: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the ``k`` largest keys per feature among the running slots and a new batch.

    ``batch_acts`` is ``[batch, seq, F]``. Only features whose slots changed are touched (after the first few
    batches that is a small minority), and activations are gathered only for slots the batch wins.
    Returns the new keys, contexts, activations (updated in place) and the selection indices.
    """
    k = keys.shape[0]
    top = torch.topk(torch.cat([keys, new_keys], dim=0), k, dim=0)
    sel = top.indices  # [k, F] into the concatenation
    changed = torch.nonzero((sel != torch.arange(k).unsqueeze(1)).any(dim=0)).flatten()
    if len(changed):
        sub = sel[:, changed]
        from_batch = sub >= k
        old_rows = sub.clamp(max=k - 1)
        ctx[:, changed] = torch.where(
            from_batch, new_ctx[:, changed].gather(0, (sub - k).clamp(min=0)), ctx[:, changed].gather(0, old_rows)
        )
        acts[:, changed] = acts[old_rows, changed.unsqueeze(0)]
        slot, col = torch.nonzero(from_batch, as_tuple=True)
        if len(slot):
            feat = changed[col]
            acts[slot, feat] = batch_acts[sub[slot, col] - k, :, feat].to(acts.dtype)
    return top.values, ctx, acts, sel


def mine(
    target,
    contexts: np.ndarray,
    *,
    top_k: int = 20,
    samples: int = 20,
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = True,
    corpus_name: str | None = None,
) -> FeatureIndex:
    """One pass over ``contexts`` (``[n, seq]`` token ids, BOS first) recording every feature's statistics (and,
    in ``meta``, what they were mined from: the target's identity, ``corpus_name`` and a digest of ``contexts``)."""
    if contexts.ndim != 2 or len(contexts) == 0:
        raise ValueError("mine() needs a non-empty [n_contexts, seq] array of token ids")
    F, T = target.d_sae, contexts.shape[1]
    gen = torch.Generator().manual_seed(seed)
    top_v = torch.zeros(top_k, F)
    top_c = torch.zeros(top_k, F, dtype=torch.long)
    top_a = torch.zeros(top_k, F, T, dtype=torch.float16)
    smp_k = torch.full((samples, F), -1.0)
    smp_v = torch.zeros(samples, F)
    smp_c = torch.zeros(samples, F, dtype=torch.long)
    smp_a = torch.zeros(samples, F, T, dtype=torch.float16)
    fires = torch.zeros(F, dtype=torch.long)
    hist = torch.zeros(F * (len(HIST_EDGES) - 1), dtype=torch.long)
    log_edges = torch.tensor(np.log10(HIST_EDGES), dtype=torch.float32)
    n_tokens = 0
    for start in tqdm(range(0, len(contexts), batch_size), desc="mining features", disable=not progress):
        ids = torch.as_tensor(contexts[start : start + batch_size], dtype=torch.long)
        enc = target.encode(ids)
        acts = enc.acts  # [B, T, F], zero at BOS / special tokens
        B = acts.shape[0]
        rows = torch.arange(start, start + B)
        n_tokens += int(enc.mask.sum())
        batch_max = acts.max(dim=1).values  # [B, F]
        # top-k contexts by their max activation
        top_v, top_c, top_a, _ = _merge(top_v, top_c, top_a, batch_max, rows.unsqueeze(1).expand(B, F), acts)
        # uniform reservoir of activating contexts: random keys, keep the largest
        keys = torch.where(batch_max > 0, torch.rand(B, F, generator=gen), torch.full((B, F), -1.0))
        smp_k, smp_c, smp_a, sel = _merge(smp_k, smp_c, smp_a, keys, rows.unsqueeze(1).expand(B, F), acts)
        smp_v = torch.cat([smp_v, batch_max]).gather(0, sel)
        # frequency and histogram
        nz = acts > 0
        fires += nz.sum(dim=(0, 1))
        pos = torch.nonzero(nz, as_tuple=True)
        values = acts[pos]
        bins = (torch.bucketize(values.log10(), log_edges) - 1).clamp(0, len(HIST_EDGES) - 2)
        hist.index_add_(0, pos[2] * (len(HIST_EDGES) - 1) + bins, torch.ones_like(bins))
    smp_v = torch.where(smp_k >= 0, smp_v, torch.zeros_like(smp_v))
    return FeatureIndex(
        contexts=contexts,
        top_values=top_v,
        top_context=top_c,
        top_acts=top_a,
        sample_values=smp_v,
        sample_context=smp_c,
        sample_acts=smp_a,
        fire_counts=fires,
        hist_counts=hist.view(F, -1),
        n_tokens=n_tokens,
        meta=mined_meta(target, contexts, corpus_name),
    )


def mined_meta(target, contexts: np.ndarray, corpus_name: str | None = None) -> dict:
    """What an index records about its origin (see the module docstring)."""
    identity = target_identity(target)
    meta = {"identity": identity.to_dict(), "sae": identity.sae, "model": identity.model, "hook": identity.hook,
            "contexts_digest": contexts_digest(np.ascontiguousarray(contexts))}  # fmt: skip
    if corpus_name is not None:
        meta["corpus"] = corpus_name
    return meta


def index_path(target, corpus_name: str, contexts: np.ndarray) -> Path:
    """Where the cached index for this target and these contexts lives (keyed by the target's full identity)."""
    digest = hashlib.sha256(contexts.tobytes()).hexdigest()[:12]
    key = json.dumps([target_identity(target).key(), corpus_name, digest], sort_keys=True)
    return cache_dir() / "indexes" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


def load_or_mine(target, contexts: np.ndarray, corpus_name: str, **kwargs) -> FeatureIndex:
    """The cached index for ``target`` and ``contexts`` if there is one, else mine and cache it."""
    path = index_path(target, corpus_name, contexts)
    if path.exists():
        return FeatureIndex.load(path)
    index = mine(target, contexts, corpus_name=corpus_name, **kwargs)
    index.save(path)
    return index
