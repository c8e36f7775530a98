"""Pool the scores of several `quality.py` runs (disjoint seeded feature sets) and test SAGE against the others.

Each run scores a dozen features; a paired test on a dozen, most of them ties, cannot reach p < 0.05 even when SAGE
is never behind. This reads the runs' ``scores*.csv`` files (one row per feature, explainer and metric), checks the
feature sets are disjoint, and prints per metric the paired tests of SAGE against the baseline and the top-tokens
explanation (Wilcoxon signed-rank and paired bootstrap, as :func:`sage_nb.evaluate.report.paired_test`), with how
many features SAGE is ahead of, level with or behind. ``--planted`` adds the recovery fraction of a planted summary.

    python benchmarks/quality_pooled.py benchmarks/results/quality_qwen/scores_class_context.csv \\
        benchmarks/results/quality_qwen_s2/scores_class_context.csv \\
        --planted benchmarks/results/quality_qwen_v6/planted_summary_class_context.json

Last line: ``gen_ratio=<SAGE/baseline GEN> pearson_delta=<SAGE-baseline simulation> planted_recovered=<fraction>
beats_top_tokens=<fraction of features where SAGE's GEN >= top-tokens'> gen_bootstrap_p= gen_wilcoxon_p=
features=``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from sage_nb.evaluate.report import paired_test


def load(paths: list[str]) -> pd.DataFrame:
    """The rows of every scores file, each tagged with its file; ValueError when two files share a feature."""
    frames, seen = [], {}
    for path in paths:
        frame = pd.read_csv(path)
        for feature in frame["feature"].unique():
            if feature in seen:
                raise ValueError(f"feature {feature} is in both {seen[feature]} and {path}: pool disjoint sets only")
            seen[feature] = path
        frames.append(frame.assign(run=path))
    return pd.concat(frames, ignore_index=True)


def pairs(scores: pd.DataFrame, metric: str, a: str, b: str) -> list[tuple[float, float]]:
    """(a, b) values of ``metric`` on the features where both have a value."""
    wide = scores[scores["metric"] == metric].pivot_table(index="feature", columns="explainer", values="value")
    if a not in wide or b not in wide:
        return []
    both = wide[[a, b]].dropna()
    return [(float(x), float(y)) for x, y in both.itertuples(index=False)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scores", nargs="+", help="scores CSV files of quality.py runs")
    parser.add_argument("--planted", default=None, help="a planted summary JSON (its recovery fraction)")
    args = parser.parse_args()
    scores = load(args.scores)
    print(f"{scores['feature'].nunique()} features from {len(args.scores)} runs")
    tests = {}
    for metric in sorted(scores["metric"].unique()):
        for other in ("baseline", "top-tokens"):
            paired = pairs(scores, metric, "sage", other)
            if not paired:
                continue
            test = paired_test(metric, "sage", other, paired)
            tests[(metric, other)] = test
            ahead = sum(x > y for x, y in paired)
            behind = sum(x < y for x, y in paired)
            print(
                f"{metric:>10} sage vs {other:<10} n={test.n:2d}  {test.mean_a:.3f} vs {test.mean_b:.3f}  "
                f"diff {test.mean_diff:+.3f} [{test.ci_low:+.3f}, {test.ci_high:+.3f}]  "
                f"ahead {ahead}, level {test.n - ahead - behind}, behind {behind}  "
                f"wilcoxon p {test.wilcoxon_p if test.wilcoxon_p is None else round(test.wilcoxon_p, 3)}  "
                f"bootstrap p {test.bootstrap_p:.3f}"
            )
    nan = float("nan")
    gen = tests.get(("gen", "baseline"))
    sim = tests.get(("simulation", "baseline"))
    gen_ratio = gen.mean_a / gen.mean_b if gen and gen.mean_b > 0 else nan
    top = pairs(scores, "gen", "sage", "top-tokens")
    beats = sum(x >= y for x, y in top) / len(top) if top else nan
    planted = nan
    if args.planted:
        rows = json.loads(Path(args.planted).read_text())["planted"]
        planted = sum(bool(r["recovered"]) for r in rows) / len(rows)
    wilcoxon = gen.wilcoxon_p if gen and gen.wilcoxon_p is not None else nan
    print(
        f"gen_ratio={gen_ratio:.3f} pearson_delta={sim.mean_diff if sim else nan:.3f} planted_recovered={planted:.3f} "
        f"beats_top_tokens={beats:.3f} gen_bootstrap_p={gen.bootstrap_p if gen else nan:.3f} "
        f"gen_wilcoxon_p={wilcoxon:.3f} features={scores['feature'].nunique()}"
    )


if __name__ == "__main__":
    main()
