"""Score the explanations that quality runs stored with another simulation reader; no explainer is called again.

The forced simulation reads one number after each token of a held-out window, and the earlier slots of its reply
hold a filler so that no reading depends on another (:data:`sage_nb.evaluate.prompts.SIM_FILLERS`). With the
filler ``zero`` a small reader drifts along the window (``simulation_reader.py`` measures it): after a run of given
zeros it expects another. This takes the candidates of every ``RUN/eval/feature_*_comparison.json``, scores them
again with ``SimulationScorer(mode="forced", filler=...)`` on the same held-out samples (the run's seed and sample
counts, its measurements copied), and writes ``OUT/<run name>/eval`` and ``scores.csv``, so ``simulation_reader.py``
and ``quality_pooled.py`` read the new scores as they read the run's. Every reader call is recorded to
``OUT/calls.jsonl``; a stopped run resumes from ``eval/llm_cache.jsonl``. With Qwen2.5-Coder-1.5B a score of 10
windows took 54 s at 2 threads, alone (72 scores in 64 min); run it alone or with ``SAGE_NB_LLM_THREADS=1``.

    python benchmarks/reader_rescore.py benchmarks/results/quality_qwen benchmarks/results/quality_qwen_s2 \\
        --filler unknown --out benchmarks/results/reader_unknown
    python benchmarks/reader_rescore.py benchmarks/results/quality_qwen_v10/quality_qwen* --filler zero \\
        --rewrite strength --explainers sage --out benchmarks/results/reword_strength

``--rewrite`` instead tests how the computed sentence is worded (the top-tokens explanation, which opens SAGE's H1 and
often its final description): in each stored SAGE and top-tokens description the sentence's first clause, "Fires on
'tok' (64% of the peak activation), …", computed again from the run's evidence, is replaced, and only the rewritten
candidates are read again (``wider``: tokens up to 90 % of the peak mass, not 60 %; ``no_shares``: the same tokens
without their shares; ``strength``: each token's mean peak activation on the reader's 0-10 scale instead of its
share). The baseline keeps its stored score, which the same reader gave on the same samples. This rewrites
explanations after the fact, so its figures measure the wording, not the loop.

Last line: ``pearson_delta=<SAGE-baseline, pooled> sage= baseline= top_tokens= bootstrap_p= wilcoxon_p=
early_late_ratio=<mean prediction on a window's first 8 tokens over its mean from token 16 on> features=``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import pandas as pd
from quality import indexes
from simulation_reader import early_late_ratio, position_bands
from simulation_reader import load as load_readings

from sage_nb import load_target
from sage_nb.core.text import token_phrase
from sage_nb.evaluate.base import Candidate
from sage_nb.evaluate.prompts import SIM_FILLERS
from sage_nb.evaluate.report import MEASURE_CACHE, SUMMARY, evaluate, paired_test
from sage_nb.evaluate.simulation import SimulationScorer
from sage_nb.evidence import Evidence
from sage_nb.explainers.top_tokens import TopTokensExplainer
from sage_nb.llm import make_llm


def stored_candidates(run: Path) -> list[Candidate]:
    """Every explanation a run's ``eval/feature_*_comparison.json`` files hold."""
    out = []
    for path in sorted((run / "eval").glob("feature_*_comparison.json")):
        comparison = json.loads(path.read_text())
        for name, explained in comparison["explainers"].items():
            out.append(Candidate(comparison["feature"], name, explained["description"], list(explained["labels"])))
    if not out:
        raise SystemExit(f"no comparison under {run / 'eval'}: give a quality.py --out folder that was scored")
    return out


#: The explainers whose descriptions hold the computed sentence.
COMPUTED = ("sage", "top-tokens")
REWRITES = ("wider", "no_shares", "strength")


def computed_clause(evidence: Evidence, rewrite: str | None = None) -> str:
    """The computed sentence's first clause ("Fires on …"), as the committed explainer writes it (``None``) or
    rewritten (see the module docstring)."""
    if rewrite is None or rewrite == "wider":
        explainer = TopTokensExplainer(coverage=0.9) if rewrite else TopTokensExplainer()
        return explainer.from_evidence(evidence).description.split(";")[0].rstrip(".")
    phrases = [phrase for phrase, _ in TopTokensExplainer().named_tokens(evidence)]
    if rewrite == "no_shares":
        return "Fires on " + ", ".join(phrases)
    return "Fires on " + ", ".join(f"{p} (about {round(10 * mean_fraction(evidence, p))}/10)" for p in phrases)


def mean_fraction(evidence: Evidence, phrase: str) -> float:
    """The mean peak activation (over the feature's scale) of the peak tokens that read as ``phrase``."""
    stats = [stat for stat in evidence.peak if token_phrase(stat.token) == phrase]
    return sum(stat.mean_fraction * stat.count for stat in stats) / sum(stat.count for stat in stats)


def rewritten_candidates(
    target, index, run: Path, rewrite: str, explainers: tuple[str, ...] = COMPUTED
) -> tuple[list[Candidate], pd.DataFrame]:
    """The stored candidates of ``explainers`` (of :data:`COMPUTED`) whose description holds the computed clause,
    with it rewritten; and the stored simulation scores of every other candidate (the baseline's among them)."""
    out, kept = [], []
    for path in sorted((run / "eval").glob("feature_*_comparison.json")):
        comparison = json.loads(path.read_text())
        feature = comparison["feature"]
        evidence = Evidence.from_feature(index.feature_data(target, feature))
        old, new = computed_clause(evidence), computed_clause(evidence, rewrite)
        for name, explained in comparison["explainers"].items():
            text = explained["description"]
            if name in explainers and old in text and old != new:
                out.append(Candidate(feature, name, text.replace(old, new, 1), list(explained["labels"])))
            else:
                kept.append({"feature": feature, "explainer": name, "metric": "simulation",
                             "value": explained["scores"]["simulation"]["value"], "notes": "stored"})  # fmt: skip
    return out, pd.DataFrame(kept)


def rescore(
    target,
    indexed: tuple,
    run: Path,
    out: Path,
    llm,
    filler: str,
    rewrite: str | None = None,
    explainers: tuple[str, ...] = COMPUTED,
) -> pd.DataFrame:
    """Score a run's stored candidates with the forced reader and ``filler`` into ``out/eval`` (``indexed``: the
    mined and held-out indexes, :func:`quality.indexes`); the scores."""
    meta = json.loads((run / "eval" / SUMMARY).read_text())["meta"]
    (out / "eval").mkdir(parents=True, exist_ok=True)
    measured = run / "eval" / MEASURE_CACHE
    if measured.exists() and not (out / "eval" / MEASURE_CACHE).exists():  # the same windows, not measured again
        shutil.copy(measured, out / "eval" / MEASURE_CACHE)
    index, held_index = indexed
    candidates, kept = (stored_candidates(run), None) if rewrite is None else rewritten_candidates(
        target, index, run, rewrite, explainers)  # fmt: skip
    report = evaluate(
        target, candidates, llm, index=index, held_out=held_index,
        scorers=[SimulationScorer(mode="forced", filler=filler)], output_dir=out / "eval", seed=meta["seed"],
        active=meta["samples"]["active"], zeros=meta["samples"]["zeros"],
    )  # fmt: skip
    frame = report.frame().drop(columns=["details"], errors="ignore")
    if kept is not None:
        frame = pd.concat([frame, kept], ignore_index=True)
    frame.to_csv(out / "scores.csv", index=False)
    return frame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", help="quality.py --out folders whose eval/ holds the explanations")
    parser.add_argument("--filler", required=True, choices=sorted(SIM_FILLERS), help="what the earlier slots hold")
    parser.add_argument("--out", required=True)
    parser.add_argument("--rewrite", choices=REWRITES, help="reword the computed sentence (see the docstring)")
    parser.add_argument("--explainers", default=",".join(COMPUTED), help="whose descriptions --rewrite rewords")
    parser.add_argument("--llm", default="local-capable", help="the reader (a make_llm spec that reads forced)")
    parser.add_argument("--contexts", type=int, default=2000, help="the runs' --contexts (their mined index)")
    args = parser.parse_args()
    unknown = set(args.explainers.split(",")) - set(COMPUTED)
    if unknown:
        raise SystemExit(f"--explainers {', '.join(sorted(unknown))}: only {', '.join(COMPUTED)} hold the sentence")
    out, start = Path(args.out), time.time()
    out.mkdir(parents=True, exist_ok=True)
    names = [Path(run).name for run in args.runs]
    if len(set(names)) < len(names):
        raise SystemExit(f"two runs share a folder name ({', '.join(names)}): their results would overwrite")
    llm = make_llm(args.llm, record=out / "calls.jsonl")
    target = load_target()
    indexed = indexes(target, args.contexts)  # the same for every run
    frames = [rescore(target, indexed, Path(run), out / name, llm, args.filler, args.rewrite,
                       tuple(args.explainers.split(",")))
              for run, name in zip(args.runs, names, strict=True)]  # fmt: skip
    scores = pd.concat(frames, ignore_index=True)
    wide = scores.pivot_table(index="feature", columns="explainer", values="value")
    print(wide.round(3).to_string())
    means = wide.mean()
    both = wide[["sage", "baseline"]].dropna()
    test = paired_test("simulation", "sage", "baseline", list(both.itertuples(index=False, name=None)))
    print(f"sage vs baseline: n={test.n} diff {test.mean_diff:+.3f} [{test.ci_low:+.3f}, {test.ci_high:+.3f}]")
    readings, _ = load_readings([str(out / name) for name in names])
    bands = position_bands(readings)
    print(bands.drop(columns="start").round(2).to_string())
    print(f"minutes={(time.time() - start) / 60:.1f} filler={args.filler} rewrite={args.rewrite}")
    print(
        f"pearson_delta={test.mean_diff:.3f} sage={means.get('sage', float('nan')):.3f} "
        f"baseline={means.get('baseline', float('nan')):.3f} top_tokens={means.get('top-tokens', float('nan')):.3f} "
        f"bootstrap_p={test.bootstrap_p:.3f} wilcoxon_p={test.wilcoxon_p} "
        f"early_late_ratio={early_late_ratio(bands):.2f} features={len(wide)}"
    )


if __name__ == "__main__":
    main()
