"""How much of the simulation score is the reader: the stored forced simulations against a literal reader.

The simulation score asks the reader LLM to predict a feature's activation on every token of held-out text from an
explanation. When SAGE and the baseline score alike, either their explanations carry the same information or the
reader does not use what differs. This separates the two without an LLM call, from what ``quality.py --sim-mode
forced`` stored in ``OUT/eval``:

- ``reader``: the stored score, recomputed from the per-token predictions (checked against the stored value);
- ``literal``: a reader that predicts 1 on every token the explanation cites (in quotes, or whitespace by name: "a
  line break") and 0 elsewhere. It cannot read negation, classes or context, so it measures what the cited tokens
  alone are worth, not what the explanation is worth;
- ``early``: the reader's score on each window's first 8 tokens only, before its drift along the window (below)
  sets in; undefined for a feature whose windows stay silent there;
- ``agreement``: the Pearson correlation of the reader's predictions for SAGE's and the baseline's explanation of the
  same feature, over the same tokens: how far the reader's predictions move when the explanation changes.

Pooled over the quality runs given (disjoint feature sets), with the paired tests of
:func:`sage_nb.evaluate.report.paired_test`:

    python benchmarks/simulation_reader.py benchmarks/results/quality_qwen benchmarks/results/quality_qwen_s2

Last line: ``reader_delta=<SAGE-baseline, the reader> literal_delta=<SAGE-baseline, the literal reader>
literal_sage= literal_baseline= reader_literal_r=<correlation of the two readers' scores over features and
explainers> agreement=<median over features> early_late_ratio=<the reader's mean prediction on a window's first 8
tokens over its mean from token 16 on> early_delta=<SAGE-baseline, the reader on the first 8 tokens> features=``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import pandas as pd

from sage_nb.core.text import names_token, quotes_token
from sage_nb.evaluate.report import paired_test
from sage_nb.evaluate.simulation import pearson

EXPLAINERS = ("sage", "baseline", "top-tokens")
#: The first tokens of a window, where the reader has not drifted yet (the ``early`` score).
EARLY = 8


def cites(description: str, token: str) -> bool:
    """Whether the description cites ``token``: in quotes ('self', "f"), or a whitespace token by name ("a line
    break"). Unquoted words do not count, or every word of the prose ('in', 'text') would be a prediction."""
    if token.strip():
        return quotes_token(description, token)
    return names_token(description, [token], include_short=True)


def literal(description: str, tokens: list[str]) -> list[float]:
    """1.0 on each token the description cites, 0.0 elsewhere."""
    return [1.0 if cites(description, t) else 0.0 for t in tokens]


def feature_rows(comparison: dict, measured: dict) -> tuple[list[dict], float | None]:
    """One row per explainer of a feature's comparison (its two readers' scores), and the agreement of SAGE's and
    the baseline's predictions (None when one of them is missing)."""
    feature = comparison["feature"]
    windows = [measured[f"{feature}\x1f{s['text']}"]["tokens"] for s in comparison["samples"]]
    tokens = [t for window in windows for t in window]
    positions = [i for window in windows for i in range(len(window))]
    rows, predictions = [], {}
    for name, explained in comparison["explainers"].items():
        score = explained["scores"].get("simulation")
        if score is None or score.get("value") is None or score["details"].get("mode") != "forced":
            continue
        contexts = score["details"]["contexts"]
        true = [a for c in contexts for a in c["true"]]
        predicted = [p for c in contexts for p in c["predicted"]]
        if [len(w) for w in windows] != [len(c["true"]) for c in contexts] or len(predicted) != len(true):
            raise ValueError(f"feature {feature}, {name}: the stored windows do not match the measured tokens")
        reader, _ = pearson(true, predicted)
        # the predictions are stored to 4 decimals
        if reader is None or not math.isclose(reader, float(score["value"]), abs_tol=1e-3):
            raise ValueError(f"feature {feature}, {name}: recomputed {reader}, stored {score['value']}")
        said, _ = pearson(true, literal(explained["description"], tokens))
        first = [(t, p) for i, t, p in zip(positions, true, predicted, strict=True) if i < EARLY]
        early, _ = pearson([t for t, _ in first], [p for _, p in first])
        rows.append({"feature": feature, "explainer": name, "reader": reader, "literal": 0.0 if said is None else said,
                     "early": math.nan if early is None else early,
                     "profile": list(zip(positions, true, predicted, strict=True))})  # fmt: skip
        predictions[name] = predicted
    agreement = None
    if "sage" in predictions and "baseline" in predictions:
        agreement, _ = pearson(predictions["sage"], predictions["baseline"])
    return rows, agreement


def position_bands(scores: pd.DataFrame, width: int = 8) -> pd.DataFrame:
    """Mean true and predicted activation by a token's position in its window (bands of ``width``): the windows
    centre on a peak, so the true activations rise in the middle, while a reader that leans on the earlier lines
    of its reply drifts with the position."""
    points = pd.DataFrame(
        [(i // width, t, p) for profile in scores["profile"] for i, t, p in profile],
        columns=["band", "true", "predicted"],
    )
    table = points.groupby("band").agg(true=("true", "mean"), predicted=("predicted", "mean"), tokens=("true", "size"))
    table.insert(0, "start", table.index * width)
    table.index = [f"{b * width}-{b * width + width - 1}" for b in table.index]
    return table


def early_late_ratio(bands: pd.DataFrame, early: int = EARLY, late: int = 16) -> float:
    """The mean prediction on a window's first ``early`` tokens over its mean from token ``late`` on (from
    :func:`position_bands`, whose band width must divide both): about 1 for a reader that does not drift."""
    first, later = _mean_prediction(bands[bands["start"] < early]), _mean_prediction(bands[bands["start"] >= late])
    return first / later if later > 0 else float("nan")


def _mean_prediction(bands: pd.DataFrame) -> float:
    """The mean prediction over the tokens of some bands (nan for none)."""
    tokens = bands["tokens"].sum()
    return float((bands["predicted"] * bands["tokens"]).sum() / tokens) if tokens else float("nan")


def load(folders: list[str]) -> tuple[pd.DataFrame, dict[int, float]]:
    """The two readers' scores of every forced simulation stored under the folders, and the agreements."""
    rows, agreements, seen = [], {}, set()
    for folder in folders:
        evaluated = Path(folder) / "eval"
        measured = json.loads((evaluated / "measurements.json").read_text())["rows"]
        for path in sorted(evaluated.glob("feature_*_comparison.json")):
            comparison = json.loads(path.read_text())
            if comparison["feature"] in seen:
                raise ValueError(f"feature {comparison['feature']} is in two runs: pool disjoint sets only")
            seen.add(comparison["feature"])
            found, agreement = feature_rows(comparison, measured)
            rows += found
            if agreement is not None:
                agreements[comparison["feature"]] = agreement
    if not rows:
        raise SystemExit(f"no forced simulation stored under {', '.join(folders)}: run quality.py --sim-mode forced")
    return pd.DataFrame(rows), agreements


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", help="quality.py --out folders (their eval/ is read)")
    args = parser.parse_args()
    scores, agreements = load(args.runs)
    print(f"{scores['feature'].nunique()} features from {len(args.runs)} runs")
    means = scores.groupby("explainer")[["reader", "literal", "early"]].mean()
    print(means.reindex([e for e in EXPLAINERS if e in means.index]).round(3).to_string())
    deltas = {}
    for column in ("reader", "literal", "early"):
        wide = scores.pivot_table(index="feature", columns="explainer", values=column)
        for other in ("baseline", "top-tokens"):
            if "sage" not in wide or other not in wide:
                continue
            both = wide[["sage", other]].dropna()
            test = paired_test(column, "sage", other, list(both.itertuples(index=False, name=None)))
            deltas[(column, other)] = test.mean_diff
            print(
                f"{column:>7} sage vs {other:<10} n={test.n:2d} diff {test.mean_diff:+.3f} "
                f"[{test.ci_low:+.3f}, {test.ci_high:+.3f}] wilcoxon p {test.wilcoxon_p} bootstrap p "
                f"{test.bootstrap_p:.3f}"
            )
    bands = position_bands(scores)
    print(bands.drop(columns="start").round(2).to_string())
    both = scores.dropna(subset=["reader", "literal"])
    reader_literal, _ = pearson(both["reader"].tolist(), both["literal"].tolist())
    agreement = statistics.median(agreements.values()) if agreements else float("nan")
    print(f"reader's predictions for SAGE and baseline: median agreement {agreement:.3f} over {len(agreements)}")
    nan = float("nan")
    print(
        f"reader_delta={deltas.get(('reader', 'baseline'), nan):.3f} "
        f"literal_delta={deltas.get(('literal', 'baseline'), nan):.3f} "
        f"literal_sage={means.loc['sage', 'literal'] if 'sage' in means.index else nan:.3f} "
        f"literal_baseline={means.loc['baseline', 'literal'] if 'baseline' in means.index else nan:.3f} "
        f"reader_literal_r={reader_literal if reader_literal is not None else nan:.3f} "
        f"agreement={agreement:.3f} early_late_ratio={early_late_ratio(bands):.2f} "
        f"early_delta={deltas.get(('early', 'baseline'), nan):.3f} features={scores['feature'].nunique()}"
    )


if __name__ == "__main__":
    main()
