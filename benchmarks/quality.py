"""Held-out quality of SAGE against the one-shot baseline on the embedded target (offline local LLM by default).

On a fixed seeded set of live features of the shipped SAE (none used by tests or tutorials) it runs the SAGE loop
and the baseline explainer, scores both on held-out text (GEN and simulation by default), and runs SAGE on every
planted feature to see how many it recovers (its description or a label names the planted concept). With
``--evidence-ablation`` the planted runs are repeated without the computed evidence in the prompts. With
``--top-tokens`` the explanation computed from the evidence alone (no LLM) is scored beside them and tried on the
planted features, as a reference; ``--top-tokens-only`` scores just that explanation (no agent, no baseline, and
a last line ``top_tokens_gen=<GEN> top_tokens_pearson=<simulation r> top_tokens_planted=<fraction>``), quick enough
to check the statistics' floor on its own. The simulation reads one number after each token (``--sim-mode forced``,
the llama.cpp engine); ``--sim-mode all_at_once`` lets the simulator write the list (any backend). GEN's reader
samples its texts at ``--gen-temperature`` (``GEN_TEMPERATURE``; 0 writes greedily, where a small reader may write
one text ten times).

Takes long on 2 CPU cores (run it in the background, alone). Every LLM call is recorded to ``OUT/calls.jsonl``; the
report's scores go to ``OUT/scores.csv`` and the summary to ``OUT/quality_summary.json``: commit those (not the run
folders) and a later session resumes from the caches, a reader audits every figure. Prints tables, then on its last
line ``gen_ratio=<sage/baseline GEN> pearson_delta=<sage-baseline> planted_recovered=<fraction>
beats_top_tokens=<fraction of features where SAGE's GEN >= top-tokens'>``.

    python benchmarks/quality.py [--features 20] [--out quality_results] [--evidence-ablation] [--top-tokens]
        [--top-tokens-only] [--llm SPEC] [--exclude_ablation_features]

The capable offline model in every role (agent, baseline, reader):
``python benchmarks/quality.py --llm local-capable --features 12 --top-tokens --scorers gen,simulation,detection
--out benchmarks/results/quality_qwen``.

After a change to the loop, ``--agent-cache FILE`` (earlier ``calls.jsonl`` recordings, newest first, concatenated)
runs every feature again but answers each of the agent's requests found in FILE from it: only the requests the change
altered reach the LLM, and a run that replayed any is marked replayed.

``--llm`` takes any ``make_llm`` spec (``openai:gpt-4o-mini``, ``openai-compatible:MODEL@http://localhost:8000/v1``,
...); runs are kept per agent LLM, so arms of different LLMs never reuse each other's results.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import pandas as pd

from sage_nb import corpus_contexts, default_corpus, load_or_mine, load_target
from sage_nb.agent import AgentConfig, Bounds, explain_features
from sage_nb.data.index import mine
from sage_nb.evaluate.base import Candidate
from sage_nb.evaluate.generation import GenerationScorer
from sage_nb.evaluate.prompts import GEN_TEMPERATURE
from sage_nb.evaluate.report import evaluate
from sage_nb.evaluate.simulation import SimulationScorer
from sage_nb.explainers.one_shot import OneShotExplainer
from sage_nb.explainers.top_tokens import TopTokensExplainer
from sage_nb.llm import make_llm
from sage_nb.llm.cache import CachedBackend
from sage_nb.targets.planted import load_planted_target

#: Features that tests, tutorials or benchmarks look at; the quality set never includes them.
USED_ELSEWHERE = {3552, 743, 100, 123, 4086, 12, 755}
#: The 20 real features of the evidence ablation (``ablations.py evidence``, seed 0): the quality set leaves them out.
ABLATION_FEATURES = {198, 1083, 1287, 1515, 1775, 1904, 1999, 2073, 2352, 2397, 2526, 2890, 3778, 3916, 4134, 4208,
                     4427, 4434, 4512, 4568}  # fmt: skip
#: Features must fire at least this often to have exemplars and held-out samples in both splits.
MIN_DENSITY = 2e-4


def pick_features(index, n: int, seed: int, exclude: set[int] = frozenset()) -> list[int]:
    """``n`` live features (seeded), dense enough, not used elsewhere (nor in ``exclude``)."""
    density = index.density()
    skip = USED_ELSEWHERE | set(exclude)
    live = [f for f in index.live_features() if float(density[f]) >= MIN_DENSITY and f not in skip]
    return sorted(random.Random(seed).sample(live, n))


def peak_tokens(fd, n: int = 3) -> list[str]:
    """The ``n`` tokens that most often carry the peak of a feature's top exemplars."""
    counts: dict[str, int] = {}
    for ex in fd.top:
        counts[ex.tokens[ex.peak]] = counts.get(ex.tokens[ex.peak], 0) + 1
    return sorted(counts, key=counts.get, reverse=True)[:n]


def names_peak(candidate: Candidate, peak_tokens: list[str], include_short: bool = False) -> bool:
    """Whether the description or a label names one of the feature's top peak tokens (:meth:`Candidate.names_any`:
    whole words of two characters or more; ``include_short`` also counts a quoted '#' or 'a line break')."""
    return candidate.names_any(peak_tokens, include_short=include_short)


def indexes(target, contexts: int) -> tuple:
    """The mined index of the training split (``contexts`` contexts) and of the held-out split, from the cache."""
    corpus = default_corpus()
    train, held = corpus.split(held_out=False), corpus.split(held_out=True)
    index = load_or_mine(target, corpus_contexts(train, target.tokenizer, max_contexts=contexts), train.name)
    return index, load_or_mine(target, corpus_contexts(held, target.tokenizer, max_contexts=1000), held.name)


def loop_config(hypotheses: int, rounds: int, generalize: bool, context_probe: bool) -> AgentConfig:
    """The SAGE loop this benchmark runs (``ablations.py --loop quality`` uses the same, so its runs can be shared)."""
    bounds = Bounds(hypotheses=hypotheses, rounds_per_hypothesis=rounds)
    return AgentConfig(bounds, generalize=generalize, context_probe=context_probe)


def agent_backend(llm, cache: str | None):
    """The agent's LLM: ``llm``, answered from the recordings in ``cache`` (``--agent-cache``) where a request is
    already there."""
    return CachedBackend(llm, cache) if cache else llm


def _planted_index(contexts: int):
    planted = load_planted_target()
    ctx = corpus_contexts(default_corpus().split(held_out=False), planted.tokenizer, max_contexts=contexts)
    return planted, mine(planted, ctx, top_k=20, samples=20, progress=False)


def planted_top_tokens(contexts: int) -> pd.DataFrame:
    """The computed (no LLM) explanation of every planted feature that fired: one row each, recovered or not."""
    planted, index = _planted_index(contexts)
    rows = []
    for feature in planted.features:
        if index.fire_counts[feature.index] == 0:
            continue
        c = TopTokensExplainer().explain(index.feature_data(planted, feature.index))
        text = " ".join([c.description, *c.labels])
        rows.append({"feature": feature.name, "recovered": feature.matches(text), "labels": "; ".join(c.labels)})
    return pd.DataFrame(rows)


def planted_recovery(
    llm, config: AgentConfig, out: Path, contexts: int, names: list[str] | None = None
) -> pd.DataFrame:
    """SAGE on the planted features (all, or those ``names``): one row per feature, whether it names the concept
    (recovered) and whether it names one of the top peak tokens (as for the real features)."""
    planted, index = _planted_index(contexts)
    chosen = [f for f in planted.features if names is None or f.name in names]
    features = [f.index for f in chosen if index.fire_counts[f.index] > 0]
    states = explain_features(planted, features, llm, index=index, output_dir=out, config=config)
    rows = []
    for state in states:
        feature = planted.features[state.feature]
        expl = state.explanation
        text = " ".join([expl.description, *expl.labels]) if expl else ""
        peaks = peak_tokens(index.feature_data(planted, state.feature))
        rows.append(
            {"feature": feature.name, "token_level": feature.token_level,
             "recovered": bool(expl) and feature.matches(text),
             "names_peak": bool(expl) and names_peak(Candidate.from_run(state), peaks), "tokens": state.tokens,
             "labels": "; ".join(expl.labels) if expl else state.stop_reason}
        )  # fmt: skip
    return pd.DataFrame(rows)


def per_feature(report, runs, candidates, peaks) -> pd.DataFrame:
    """One row per real feature: its peak tokens, each explainer's scores, SAGE's class verdict (when the class
    step ran) and both explanations, for reading the failures."""
    scores = report.frame().pivot_table(index="feature", columns=["metric", "explainer"], values="value")
    scores.columns = [f"{metric}_{explainer}" for metric, explainer in scores.columns]
    text = {(c.explainer, c.feature): c.description for c in candidates}
    rows = []
    for state in runs:
        f = state.feature
        klass = next((h for h in state.hypotheses if h.class_name), None)
        row = {"feature": f, "peaks": ", ".join(map(repr, peaks[f]))}
        row.update(scores.loc[f].round(3).to_dict() if f in scores.index else {})
        row["class"] = f"{klass.class_name}: {klass.status}" if klass else ""
        row["sage"] = text.get(("sage", f), "")
        row["baseline"] = text.get(("baseline", f), "")
        rows.append(row)
    return pd.DataFrame(rows)


def _means(report):
    return report.table().set_index(["metric", "explainer"])["mean"]


def _ratio(report) -> float:
    """Mean GEN of SAGE / mean GEN of the baseline."""
    means = _means(report)
    return means.get(("gen", "sage"), float("nan")) / max(means.get(("gen", "baseline"), float("nan")), 1e-9)


def _delta(report) -> float:
    """Mean simulation correlation of SAGE minus the baseline's."""
    means = _means(report)
    return means.get(("simulation", "sage"), float("nan")) - means.get(("simulation", "baseline"), float("nan"))


def beats_top_tokens(report) -> float:
    """Fraction of features (scored for both) where SAGE's GEN is at least the top-tokens explanation's."""
    gen = report.frame()
    gen = gen[gen["metric"] == "gen"].pivot_table(index="feature", columns="explainer", values="value")
    if "sage" not in gen or "top-tokens" not in gen:
        return float("nan")
    both = gen[["sage", "top-tokens"]].dropna()
    return float((both["sage"] >= both["top-tokens"]).mean()) if len(both) else float("nan")


def scorers(args: argparse.Namespace) -> list:
    """The scorers named by ``--scorers``: the simulation one in ``--sim-mode``, GEN at ``--gen-temperature``."""
    made = {"simulation": lambda: SimulationScorer(mode=args.sim_mode),
            "gen": lambda: GenerationScorer(temperature=args.gen_temperature)}  # fmt: skip
    return [made[name]() if name in made else name for name in args.scorers.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--contexts", type=int, default=2000)
    parser.add_argument("--out", default="quality_results")
    parser.add_argument("--llm", default="local", help="agent, explainer and scorer LLM (a make_llm spec)")
    parser.add_argument("--scorers", default="gen,simulation")
    parser.add_argument(
        "--sim-mode",
        default="forced",
        choices=["forced", "all_at_once", "per_token"],
        help="how the simulation scorer reads (forced: one number read after each token; needs the llama.cpp engine)",
    )
    parser.add_argument(
        "--gen-temperature",
        type=float,
        default=GEN_TEMPERATURE,
        help=f"GEN's reader samples its texts at this temperature (default {GEN_TEMPERATURE}; 0: greedy)",
    )
    parser.add_argument("--hypotheses", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--active", type=int, default=6, help="held-out activating samples per feature")
    parser.add_argument("--zeros", type=int, default=4, help="held-out non-activating samples per feature")
    parser.add_argument("--evidence-ablation", action="store_true")
    parser.add_argument("--skip-planted", action="store_true", help="stop after the real features")
    parser.add_argument(
        "--planted-only", action="store_true", help="only SAGE on the planted features (their recovery, no scoring)"
    )
    parser.add_argument(
        "--top-tokens", action="store_true", help="also score the explanation computed from the evidence (no LLM)"
    )
    parser.add_argument("--top-tokens-only", action="store_true", help="score only the computed explanation")
    parser.add_argument(
        "--exclude_ablation_features", action="store_true", help="leave out the evidence ablation's 20 features"
    )
    parser.add_argument(
        "--generalize",
        action="store_true",
        help="SAGE with the class step (AgentConfig(generalize=True)); its runs, scores and summary carry '_class'",
    )
    parser.add_argument(
        "--context_probe",
        action="store_true",
        help="SAGE with the context probe (AgentConfig(context_probe=True)); its files carry '_context'",
    )
    parser.add_argument(
        "--first", type=int, default=None, help="this time only the first N features of the set (a partial run)"
    )
    parser.add_argument(
        "--agent-cache",
        default=None,
        help="a JSONL of earlier agent calls (recordings such as OUT/calls.jsonl, concatenated): SAGE's requests "
        "found there are answered from it (its runs are marked replayed), the others go to the LLM and are added, so "
        "that after a change to the loop every feature is run again and only the calls the change altered are paid",
    )
    args = parser.parse_args()
    args.top_tokens = args.top_tokens or args.top_tokens_only
    out = Path(args.out)
    start = time.time()

    target = load_target()
    index, held_index = indexes(target, args.contexts)
    exclude = ABLATION_FEATURES if args.exclude_ablation_features else set()
    features = pick_features(index, args.features, args.seed, exclude)
    print("features:", features, flush=True)
    if args.first is not None and args.first < len(features):
        features = features[: args.first]
        print(f"PARTIAL RUN: the first {len(features)} of {args.features} features; figures cover only these")

    out.mkdir(parents=True, exist_ok=True)
    llm = make_llm(args.llm, record=out / "calls.jsonl")  # every call, for the audit (replayable)
    agent = agent_backend(llm, args.agent_cache)
    config = loop_config(args.hypotheses, args.rounds, args.generalize, args.context_probe)
    # the runs of each variant of the loop sit beside the plain loop's
    arm = ("_class" if args.generalize else "") + ("_context" if args.context_probe else "")
    if args.planted_only:
        planted = planted_recovery(agent, config, out / f"planted{arm}", 4000)
        print(planted.to_string(index=False))
        summary = {"planted": planted.to_dict(orient="records"), "llm": args.llm,
                   "minutes": (time.time() - start) / 60}  # fmt: skip
        (out / f"planted_summary{arm}.json").write_text(json.dumps(summary, indent=1, default=str))
        print(f"minutes={summary['minutes']:.1f}")
        recovered = planted["recovered"].mean()
        print(f"gen_ratio=nan pearson_delta=nan planted_recovered={recovered:.3f} beats_top_tokens=nan")
        return
    runs, sage, baseline = [], [], []
    if not args.top_tokens_only:
        runs = explain_features(target, features, agent, index=index, output_dir=out / f"sage{arm}", config=config)
        cached = CachedBackend(llm, out / "baseline_llm_cache.jsonl")  # a re-run of the benchmark costs no call
        explained = OneShotExplainer(cached).explain_many([index.feature_data(target, f) for f in features])
        baseline = [c for c in explained if isinstance(c, Candidate)]
        sage = [Candidate.from_run(s) for s in runs if s.explanation is not None]
    computed = []
    if args.top_tokens:  # a reference without an LLM: what the plain statistics earn
        made = TopTokensExplainer().explain_many([index.feature_data(target, f) for f in features])
        computed = [c for c in made if isinstance(c, Candidate)]
    report = evaluate(
        target, sage + list(baseline) + computed, llm, index=index, held_out=held_index,
        scorers=scorers(args), output_dir=out / "eval", seed=args.seed, active=args.active, zeros=args.zeros,
    )  # fmt: skip
    print(report.table().to_string(index=False))
    report.frame().drop(columns=["details"], errors="ignore").to_csv(out / f"scores{arm}.csv", index=False)
    if args.top_tokens_only:
        reference = planted_top_tokens(4000)
        print(reference.to_string(index=False))
        means = _means(report)
        print(f"minutes={(time.time() - start) / 60:.1f}")
        print(
            f"top_tokens_gen={means.get(('gen', 'top-tokens'), float('nan')):.3f} "
            f"top_tokens_pearson={means.get(('simulation', 'top-tokens'), float('nan')):.3f} "
            f"top_tokens_planted={reference['recovered'].mean():.3f}"
        )
        return
    print(report.compare_frame().to_string(index=False))
    if computed:
        print(report.compare_frame("sage", "top-tokens").to_string(index=False))
        print(report.compare_frame("baseline", "top-tokens").to_string(index=False))

    peaks = {f: peak_tokens(index.feature_data(target, f)) for f in features}
    named: dict[str, list[bool]] = {c.explainer: [] for c in sage + list(baseline)}  # computed names one by design
    for c in sage + list(baseline):
        named[c.explainer].append(names_peak(c, peaks[c.feature]))
    for name, hits in named.items():
        print(f"{name}: names a top peak token for {sum(hits)}/{len(hits)} real features")
    tokens = [s.tokens for s in runs]
    print(f"sage tokens per feature: mean {sum(tokens) / len(tokens):.0f}")
    table = per_feature(report, runs, sage + list(baseline), peaks)
    print(table.to_string(index=False))
    table.to_csv(out / f"per_feature{arm}.csv", index=False)

    if args.skip_planted:  # e.g. run by `ablations.py evidence` into the same --out; a later run reads them
        partial = {"features": features, "llm": args.llm, "gen_ratio": _ratio(report), "pearson_delta": _delta(report),
                   "beats_top_tokens": beats_top_tokens(report), "planted": None,
                   "minutes": (time.time() - start) / 60}  # fmt: skip
        (out / f"quality_summary{arm}.json").write_text(json.dumps(partial, indent=1, default=str))
        print(
            f"gen_ratio={_ratio(report):.3f} pearson_delta={_delta(report):.3f} planted_recovered=nan "
            f"beats_top_tokens={beats_top_tokens(report):.3f}"
        )
        return
    planted = planted_recovery(agent, config, out / f"planted{arm}", 4000)
    print(planted.to_string(index=False))
    summary = {"features": features, "planted": planted.to_dict(orient="records")}
    if args.top_tokens:
        reference = planted_top_tokens(4000)
        print(f"top-tokens (no LLM): planted recovered {int(reference['recovered'].sum())}/{len(reference)}")
        print(reference.to_string(index=False))
        summary["planted_top_tokens"] = reference.to_dict(orient="records")
    if args.evidence_ablation:
        bare = AgentConfig(config.bounds, use_evidence=False)
        without = planted_recovery(agent, bare, out / "planted_no_evidence", 4000)
        print("without evidence:")
        print(without.to_string(index=False))
        summary["planted_no_evidence"] = without.to_dict(orient="records")
        print(
            f"planted recovered with evidence {planted['recovered'].mean():.2f} "
            f"({planted['tokens'].mean():.0f} tokens/feature), without {without['recovered'].mean():.2f} "
            f"({without['tokens'].mean():.0f} tokens/feature)"
        )

    gen_ratio, delta = _ratio(report), _delta(report)
    summary.update(gen_ratio=gen_ratio, pearson_delta=delta, beats_top_tokens=beats_top_tokens(report),
                   llm=args.llm, minutes=(time.time() - start) / 60)  # fmt: skip
    (out / f"quality_summary{arm}.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"minutes={summary['minutes']:.1f}")
    print(
        f"gen_ratio={gen_ratio:.3f} pearson_delta={delta:.3f} planted_recovered={planted['recovered'].mean():.3f} "
        f"beats_top_tokens={beats_top_tokens(report):.3f}"
    )


if __name__ == "__main__":
    main()
