"""``train_explainer``: the whole run, stage by stage, in one resumable output folder.

Stages (each recorded in ``stages.json`` once its files are written; a finished stage is never redone):

``split``         seeded train / val / test features (``split.json``)
``norm``          vector-in only: the explainer's typical residual norm at the injection layer
``teacher``       the one-shot baseline with the run's LLM explains the train features (``teacher.parquet``)
``sft``           warm-up SFT of a LoRA adapter on those explanations (``sft/``)
``dpoR/candidates``  the previous stage's explainer samples ``candidates`` explanations per train and val feature
``dpoR/rewards``  the LLM writes texts for each; the target measures them (``texts.parquet``, ``rewards.parquet``)
``dpoR/pairs``    preference pairs and every feature's decision (``pairs.parquet``, ``decisions.parquet``)
``dpoR/train``    a DPO round on the train pairs; val pairs pick the checkpoint (``dpoR/adapter`` ...)
``explanations``  each stage's explainer (base, sft, dpo1 ...) explains the test features greedily
``evaluate``      GEN and the input metric on held-out samples (``evaluation/``, ``progression.csv|png``)
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sage_nb.core.io import write_json
from sage_nb.saeexplainer import config as files
from sage_nb.saeexplainer.config import BASE, SFT, TEACHER, ExplainerTrainingConfig, dpo_stage
from sage_nb.saeexplainer.explainer import Explainer, ExplainerInputs, load_explainer_model
from sage_nb.saeexplainer.pairs import PairDecision, PairRules, build_pairs
from sage_nb.saeexplainer.rewards import (
    CandidateExplanation,
    CandidateReward,
    candidate_rewards,
    measure_texts,
    write_texts,
)
from sage_nb.saeexplainer.split import FeatureSplit, check_training_features, eligible_features, split_features
from sage_nb.saeexplainer.stages import StageStore, read_table, write_table


@dataclass
class TrainingRun:
    """A finished (or resumed) run: where it is, what was done now, and the evaluation's table."""

    output_dir: Path
    config: ExplainerTrainingConfig
    split: FeatureSplit
    ran: list[str]
    skipped: list[str]
    summary: dict[str, Any] = field(default_factory=dict)

    def progression(self):
        """Mean of each metric per explainer stage with its 95% interval (pandas; ``progression.csv``)."""
        import pandas as pd

        return pd.read_csv(self.output_dir / files.PROGRESSION_CSV)

    def adapter(self, stage: str) -> Path:
        """The saved LoRA adapter of ``stage`` ('sft', 'dpo1', ...)."""
        return self.output_dir / stage / files.ADAPTER_DIR


class _Run:
    """State shared by the stages of one invocation (loaded lazily: a fully finished run loads nothing heavy)."""

    def __init__(self, cfg: ExplainerTrainingConfig, out: Path, target: Any, llm: Any, progress: bool) -> None:
        self.cfg = cfg
        self.out = out
        self.progress = progress
        self.store = StageStore(out, cfg.to_dict())
        self._target = target
        self._llm = llm
        self._cached_llm: Any = None
        self._index: Any = None
        self._datas: dict[int, Any] = {}
        self.split: FeatureSplit | None = None
        self.inputs: ExplainerInputs | None = None

    # -- lazily loaded pieces ---------------------------------------------------------------------------------
    @property
    def target(self) -> Any:
        if self._target is None:
            from sage_nb.targets import load_target

            self._target = load_target(model=self.cfg.target_model, sae=self.cfg.sae, device=self.cfg.device)
        return self._target

    @property
    def llm(self) -> Any:
        if self._llm is None:
            from sage_nb.llm import make_llm

            local = self.cfg.llm.partition(":")[0] == "local"
            options = {"device": self.cfg.device, "batch_size": self.cfg.llm_batch_size} if local else {}
            self._llm = make_llm(self.cfg.llm, **options)
        return self._llm

    def cached_llm(self) -> Any:
        """The run's LLM behind the run's call cache (a killed stage re-asks nothing it already got)."""
        from sage_nb.llm.cache import CachedBackend

        if self._cached_llm is None:
            self._cached_llm = CachedBackend(self.llm, self.out / files.LLM_CACHE_FILE)
        return self._cached_llm

    def index(self, held_out: bool = False) -> Any:
        """The mined index of the training split (exemplars), or of the held-out split (evaluation samples)."""
        if held_out:
            return _mine(self.target, self.cfg.held_out_contexts, held_out=True)
        if self._index is None:
            self._index = _mine(self.target, self.cfg.contexts, held_out=False)
        return self._index

    def data(self, feature: int) -> Any:
        if feature not in self._datas:
            self._datas[feature] = self.index().feature_data(self.target, feature, k=max(10, self.cfg.top_k))
        return self._datas[feature]

    def explainer(self, stage: str) -> Explainer:
        """The explainer of ``stage``: the base model, or it with the stage's saved adapter."""
        adapter = None if stage == BASE else self.out / stage / files.ADAPTER_DIR
        model, tokenizer = load_explainer_model(self.cfg.explainer_model, adapter=adapter, device=self.cfg.device)
        assert self.inputs is not None
        return Explainer(model, tokenizer, self.inputs, batch_size=self.cfg.generate_batch)


def _mine(target: Any, contexts: int, held_out: bool) -> Any:
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import default_corpus
    from sage_nb.data.index import load_or_mine

    corpus = default_corpus().split(held_out=held_out)
    return load_or_mine(target, corpus_contexts(corpus, target.tokenizer, max_contexts=contexts), corpus.name)


def _free() -> None:
    gc.collect()


# -- stages -------------------------------------------------------------------------------------------------------
def _split(run: _Run) -> dict[str, Any]:
    cfg = run.cfg
    eligible = eligible_features(run.index(), cfg.top_k, cfg.min_density, cfg.max_density)
    split = split_features(eligible, cfg.n_train, cfg.n_val, cfg.n_test, cfg.seed)
    write_json(run.out / files.SPLIT_FILE, split.to_dict())
    return {"eligible": len(eligible), **split.to_dict()}


def _norm(run: _Run) -> dict[str, Any]:
    from sage_nb.saeexplainer.injection import residual_norm

    cfg = run.cfg
    model, tokenizer = load_explainer_model(cfg.explainer_model, device=cfg.device)
    width, d_in = int(model.config.hidden_size), int(run.target.sae.cfg.d_in)
    if width != d_in:
        raise ValueError(
            f"vector-in writes the SAE's {d_in}-dimensional directions into the explainer, whose hidden size is "
            f"{width}: use an explainer of the target's width (or input_style='exemplars')"
        )
    # corpus contexts, re-tokenised for the explainer (its tokenizer need not be the target's), cut to equal length
    texts = run.target.tokenizer.batch_decode(run.index().contexts[: cfg.norm_contexts, 1:].tolist())
    rows = [tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    contexts = torch.tensor([r[: min(map(len, rows))] for r in rows], dtype=torch.long)
    value = residual_norm(model, contexts, cfg.inject_layer)
    del model
    _free()
    return {"residual_norm": value, "layer": cfg.inject_layer, "contexts": len(contexts)}


def _teacher(run: _Run) -> dict[str, Any]:
    from sage_nb.explainers.one_shot import ExplainError, OneShotExplainer

    assert run.split is not None
    features = list(run.split.train)
    explained = OneShotExplainer(run.cached_llm()).explain_many([run.data(f) for f in features])
    rows = []
    for f, item in zip(features, explained, strict=True):
        if isinstance(item, ExplainError):
            rows.append({"feature": f, "description": "", "labels": [], "error": item.error})
        else:
            rows.append({"feature": f, "description": item.description, "labels": item.labels, "error": None})
    write_table(run.out / files.TEACHER_FILE, rows)
    failed = [r["feature"] for r in rows if r["error"]]
    return {"explained": len(rows) - len(failed), "failed": failed}


def _sft(run: _Run) -> dict[str, Any]:
    from sage_nb.saeexplainer.plots import training_curves
    from sage_nb.saeexplainer.training import sft_rows, train_sft

    assert run.split is not None and run.inputs is not None
    targets = {r["feature"]: r["description"] for r in read_table(run.out / files.TEACHER_FILE) if r["description"]}
    check_training_features(run.split, targets, "the SFT set")
    rows = sft_rows(run.inputs, {f: run.data(f) for f in targets}, targets)
    folder = run.store.folder(SFT)
    outcome = train_sft(run.cfg, run.inputs, rows, folder, progress=run.progress)
    training_curves(outcome.history, folder / files.CURVE_FILE, "SFT on teacher explanations")
    write_json(folder / files.TRAIN_SUMMARY_FILE, outcome.to_dict())
    _free()
    return outcome.to_dict()


def _candidates(run: _Run, round_: int, previous: str) -> dict[str, Any]:
    assert run.split is not None
    cfg = run.cfg
    features = [*run.split.train, *run.split.val]
    explainer = run.explainer(previous)
    texts = explainer.explain(
        [run.data(f) for f in features],
        k=cfg.candidates,
        sample=True,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        seed=cfg.seed * 100 + round_,
        max_new_tokens=cfg.max_new_tokens,
        progress=run.progress,
        desc=f"{dpo_stage(round_)} candidates",
    )
    explainer.close()
    _free()
    rows = [
        CandidateExplanation(f, run.split.split_of(f), i, text)
        for f, samples in zip(features, texts, strict=True)
        for i, text in enumerate(samples)
    ]
    write_table(run.store.folder(dpo_stage(round_)) / files.CANDIDATES_FILE, rows)
    return {"from": previous, "candidates": len(rows), "empty": sum(not r.text for r in rows)}


def _rewards(run: _Run, round_: int) -> dict[str, Any]:
    folder = run.store.folder(dpo_stage(round_))
    candidates = [CandidateExplanation(**r) for r in read_table(folder / files.CANDIDATES_FILE)]
    distinct = list(dict.fromkeys((c.feature, c.text) for c in candidates if c.text))
    written = write_texts(run.cached_llm(), distinct, run.cfg, progress=run.progress)
    measured = measure_texts(run.target, written)
    rewards = candidate_rewards(candidates, measured)
    write_table(folder / files.TEXTS_FILE, measured)
    write_table(folder / files.REWARDS_FILE, rewards)
    return {
        "explanations": len(distinct),
        "texts": sum(t.max_act is not None for t in measured),
        "failed_texts": sum(t.max_act is None for t in measured),
        "without_reward": sum(r.reward is None for r in rewards),
    }


def _pairs(run: _Run, round_: int) -> dict[str, Any]:
    from sage_nb.evidence import feature_scale

    assert run.split is not None
    cfg = run.cfg
    folder = run.store.folder(dpo_stage(round_))
    rewards = [CandidateReward(**r) for r in read_table(folder / files.REWARDS_FILE)]
    features = [*run.split.train, *run.split.val]
    scales = {f: feature_scale(run.data(f)) for f in features}
    splits = {f: run.split.split_of(f) for f in features}
    rules = PairRules(cfg.min_best_fraction, cfg.min_spread, cfg.rejected_gap)
    decisions = build_pairs(rewards, scales, splits, rules)
    write_table(folder / files.DECISIONS_FILE, decisions)
    _write_pairs(folder / files.PAIRS_FILE, [d for d in decisions if d.kept])
    reasons: dict[str, int] = {}
    for d in decisions:
        reasons[d.reason] = reasons.get(d.reason, 0) + 1
    return {
        "train_pairs": sum(d.kept and d.split == "train" for d in decisions),
        "val_pairs": sum(d.kept and d.split == "val" for d in decisions),
        "reasons": reasons,
    }


def _write_pairs(path: Path, kept: list[PairDecision]) -> None:
    """The kept pairs as a ``datasets`` table in parquet (feature, split, chosen, rejected, rewards, scale)."""
    from datasets import Dataset

    from sage_nb.saeexplainer.training import quiet

    columns = ["feature", "split", "chosen", "rejected", "chosen_reward", "rejected_reward", "scale"]
    rows = {c: [getattr(d, c) for d in kept] for c in columns}
    tmp = path.with_name(f".{path.name}.tmp")
    with quiet(progress=False):  # a bar for one small table is noise
        Dataset.from_dict(rows).to_parquet(str(tmp))
    tmp.replace(path)


def _decisions(run: _Run, round_: int) -> list[PairDecision]:
    rows = read_table(run.out / dpo_stage(round_) / files.DECISIONS_FILE)
    return [PairDecision(**r) for r in rows]


def _train(run: _Run, round_: int, previous: str) -> dict[str, Any]:
    from sage_nb.saeexplainer.plots import training_curves
    from sage_nb.saeexplainer.training import dpo_rows, train_dpo

    assert run.split is not None and run.inputs is not None
    decisions = _decisions(run, round_)
    train = [d for d in decisions if d.kept and d.split == "train"]
    val = [d for d in decisions if d.kept and d.split == "val"]
    check_training_features(run.split, [d.feature for d in train], f"the {dpo_stage(round_)} pairs")
    datas = {d.feature: run.data(d.feature) for d in [*train, *val]}
    folder = run.store.folder(dpo_stage(round_))
    outcome = train_dpo(
        run.cfg,
        run.inputs,
        run.out / previous / files.ADAPTER_DIR,
        dpo_rows(run.inputs, datas, train),
        dpo_rows(run.inputs, datas, val),
        run.cfg.beta(round_),
        folder,
        progress=run.progress,
    )
    training_curves(outcome.history, folder / files.CURVE_FILE, f"DPO round {round_} (beta {run.cfg.beta(round_)})")
    summary = {"from": previous, "beta": run.cfg.beta(round_), **outcome.to_dict()}
    write_json(folder / files.TRAIN_SUMMARY_FILE, summary)
    _free()
    return summary


def _explanations(run: _Run) -> dict[str, Any]:
    assert run.split is not None
    cfg = run.cfg
    datas = [run.data(f) for f in run.split.test]
    rows = []
    for stage in cfg.stages:
        explainer = run.explainer(stage)
        texts = explainer.explain(
            datas, max_new_tokens=cfg.max_new_tokens, progress=run.progress, desc=f"{stage} explains test features"
        )
        explainer.close()
        _free()
        for fd, samples in zip(datas, texts, strict=True):
            rows.append({"explainer": stage, "feature": fd.index, "description": samples[0]})
    if cfg.eval_teacher:
        from sage_nb.explainers.one_shot import ExplainError, OneShotExplainer

        for fd, item in zip(datas, OneShotExplainer(run.cached_llm()).explain_many(datas), strict=True):
            text = "" if isinstance(item, ExplainError) else item.description
            rows.append({"explainer": TEACHER, "feature": fd.index, "description": text})
    write_table(run.out / files.EXPLANATIONS_FILE, rows)
    return {"explanations": len(rows), "empty": sum(not r["description"] for r in rows)}


def _evaluate(run: _Run) -> dict[str, Any]:
    from sage_nb.core.records import Candidate
    from sage_nb.evaluate.generation import GenerationScorer
    from sage_nb.evaluate.inputs import InputScorer
    from sage_nb.evaluate.report import evaluate
    from sage_nb.saeexplainer.plots import progression_plot

    cfg = run.cfg
    rows = read_table(run.out / files.EXPLANATIONS_FILE)
    empty = [(r["explainer"], r["feature"]) for r in rows if not r["description"]]
    candidates = [Candidate(r["feature"], r["explainer"], r["description"]) for r in rows if r["description"]]
    report = evaluate(
        run.target,
        candidates,
        run.llm,
        index=run.index(),
        held_out=run.index(held_out=True),
        scorers=[GenerationScorer(cfg.eval_gen_texts, cfg.eval_threshold), InputScorer(cfg.eval_input_texts)],
        output_dir=run.out / "evaluation",
        seed=cfg.seed,
        progress=run.progress,
    )
    order = [s for s in [*cfg.stages, TEACHER] if s in {c.explainer for c in candidates}]
    table = report.table()
    table["order"] = table["explainer"].map({s: i for i, s in enumerate(order)})
    table = table.sort_values(["metric", "order"]).drop(columns="order")
    table.to_csv(run.out / files.PROGRESSION_CSV, index=False)
    progression_plot(table, order, run.out / files.PROGRESSION_PLOT)
    means = {f"{m}_{e}": float(v) for m, e, v in zip(table["metric"], table["explainer"], table["mean"], strict=True)}
    return {"means": means, "not_scored_empty": [list(e) for e in empty], "scores": len(report.scores)}


# -- the run ------------------------------------------------------------------------------------------------------
def train_explainer(
    config: ExplainerTrainingConfig | None = None,
    output_dir: str | Path = "explainer_run",
    *,
    target: Any = None,
    llm: Any = None,
    progress: bool = True,
) -> TrainingRun:
    """Train an explainer with activation-guided DPO and evaluate its stages; resumable in ``output_dir``.

    ``target`` (default: loaded from ``config.sae``/``config.target_model``) is the model + SAE whose features are
    explained; ``llm`` (default: ``make_llm(config.llm)``) is the teacher, the reward-text writer and the scorers'
    LLM. Calling again with the same folder and config skips every finished stage.

    >>> run = train_explainer(ExplainerTrainingConfig.tiny(), "runs/tiny")  # doctest: +SKIP
    >>> run.progression()  # doctest: +SKIP
    """
    cfg = config or ExplainerTrainingConfig()
    out = Path(output_dir)
    run = _Run(cfg, out, target, llm, progress)
    store = run.store
    start = time.perf_counter()

    store.run("split", lambda: _split(run))
    run.split = FeatureSplit.from_dict(read_split(out))
    scale = store.run("norm", lambda: _norm(run))["residual_norm"] if cfg.input_style == "vector" else None
    run.inputs = ExplainerInputs.from_config(cfg, run.target.sae if scale is not None else None, scale)
    store.run(TEACHER, lambda: _teacher(run))
    store.run(SFT, lambda: _sft(run))
    previous = SFT
    for r in range(1, cfg.dpo_rounds + 1):
        stage = dpo_stage(r)
        store.run(f"{stage}/candidates", lambda r=r, p=previous: _candidates(run, r, p))
        store.run(f"{stage}/rewards", lambda r=r: _rewards(run, r))
        store.run(f"{stage}/pairs", lambda r=r: _pairs(run, r))
        store.run(f"{stage}/train", lambda r=r, p=previous: _train(run, r, p))
        previous = stage
    store.run("explanations", lambda: _explanations(run))
    evaluation = store.run("evaluate", lambda: _evaluate(run))

    summary = {
        "output_dir": str(out),
        "stages": {name: rec["seconds"] for name, rec in store.records.items()},
        "stage_minutes": round(store.seconds() / 60, 2),
        "wall_minutes_this_call": round((time.perf_counter() - start) / 60, 2),
        "ran": store.ran,
        "skipped": store.skipped,
        "means": evaluation["means"],
    }
    write_json(out / files.SUMMARY_FILE, summary)
    return TrainingRun(out, cfg, run.split, list(store.ran), list(store.skipped), summary)


def read_split(output_dir: str | Path) -> dict[str, Any]:
    """The split a run drew (``split.json``)."""
    import json

    return json.loads((Path(output_dir) / files.SPLIT_FILE).read_text(encoding="utf-8"))


__all__ = ["TrainingRun", "read_split", "train_explainer"]
