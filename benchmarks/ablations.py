"""The SAGE paper's suggested experiments on the embedded setup (offline local LLM by default, ``--llm`` to change).

Six experiments, each printed as a table:

- ``designer``: the loop with designed tests against the same loop measuring random corpus sentences
  (``AgentConfig(designer="random")``), on the planted features (recovered or not) and on a few real features
  (does the explanation name a top peak token).
- ``evidence``: the loop with and without the computed evidence in its prompts, and with the evidence and the
  hypothesis computed from it (``evidence_computed``). ``planted_token_level_named`` is the share of token-level
  planted features (``PlantedFeature.token_level``) whose explanation names the concept or a top-3 peak token;
  on real features ``real_names_peak`` counts whole words of two characters or more, ``real_names_peak_all`` also
  a quoted one-character token ('#') and whitespace called by name ('a line break').
- ``computed``: the loop as is against the loop whose H1 is the sentence computed from the evidence
  (``AgentConfig(computed_hypothesis=True)``), judged like the explainer's claims on designer texts
  (``computed_designed``) or on measured minimal pairs from the mined contexts (``computed``, the default).
- ``hypotheses``: the number of parallel hypotheses (1, 2, 4, 8 by default) on the same features.
- ``namer``: on the planted features, quality.py's loop (``--loop quality``) against the same loop whose
  generalizer is handed the planted concept's own label as its first class (``oracle_name``): the LLM still lists
  the members and non-members, and the loop still measures them, so the arm shows how many misses are the naming
  and how many the measurements. An oracle, for diagnosis only: never a figure of the loop itself.
- ``layers``: SAEs at several layers (``--saes`` lists SAELens folders, e.g. made by
  ``sage-nb train-sae --hook_name blocks.2.hook_resid_post --out l2``); SAGE and the baseline on a few seeded
  features of each, scored with GEN and simulation on held-out text.

By default the base arm of every experiment is the loop whose hypotheses all come from the LLM (3 hypotheses,
evidence, designed tests, ``computed_hypothesis=False``); ``quality.py`` runs the default, which for the local LLM
opens H1 with the computed sentence (``evidence_computed`` here). The ``no_evidence`` arm reuses the finished runs of
``quality.py --evidence-ablation`` given the same ``--out`` and ``--features 20``. Long on 2 CPU cores (run it in
the background). The last line holds ``name=value`` pairs of the headline figures.

    python benchmarks/ablations.py designer [--planted weekday,digit] [--features 5]
    python benchmarks/ablations.py evidence --features 20 --out quality_results
    python benchmarks/ablations.py hypotheses --counts 1,2,4,8
    python benchmarks/ablations.py computed --features 0 --planted weekday,digit
    python benchmarks/ablations.py layers --saes l2,l8,l20 --features 5
    python benchmarks/ablations.py namer --loop quality --hypotheses 2 --llm local-capable
    python benchmarks/ablations.py designer --llm openai:gpt-4o-mini   # any make_llm spec; runs are kept per LLM

``--loop quality`` makes the base arm ``quality.py --generalize --context_probe``'s loop (the computed H1 for a
local LLM, the class step, the context probe), so its planted runs copied into ``OUT/designed/planted`` are the
designed arm (a run is reused only when its settings match) and only the random arm runs:

    python benchmarks/ablations.py designer --loop quality --hypotheses 2 --features 0 --llm local-capable
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd
from quality import agent_backend, indexes, loop_config, names_peak, peak_tokens, pick_features, planted_recovery

from sage_nb import corpus_contexts, default_corpus, load_or_mine, load_target
from sage_nb.agent import AgentConfig, Bounds, explain_features, prompts
from sage_nb.evaluate.base import Candidate
from sage_nb.evaluate.report import evaluate
from sage_nb.explainers.one_shot import OneShotExplainer
from sage_nb.llm import make_llm
from sage_nb.llm.base import LLMBackend, LLMRequest, LLMResult, Message, Reply
from sage_nb.targets.planted import planted_features

#: Result folders (planted, real) of ``quality.py --evidence-ablation``'s runs without the evidence under its
#: ``--out``: the ``no_evidence`` arm (same settings) reuses them when run with the same ``--out``.
NO_EVIDENCE_DIRS = ("planted_no_evidence", "sage_no_evidence")


class OracleNamer(LLMBackend):
    """``inner`` in every role, except the generalizer's first request for a feature of ``names`` (feature index ->
    class name): ``inner`` is asked for members of that class instead (the members call,
    :func:`~sage_nb.agent.prompts.class_members_messages`), and its reply is returned under that name. The ``namer``
    ablation's LLM; its runs are kept apart from the loop's own, and their first generalizer turn shows the loop's
    request with the reply to the members call."""

    def __init__(self, inner: LLMBackend, names: dict[str, str]) -> None:
        super().__init__(inner.model, tracker=inner.tracker, max_workers=inner.max_workers)
        self.inner, self.name, self.names = inner, f"{inner.name}+oracle-namer", names

    def _turn(self, messages: list[Message], request: LLMRequest) -> Reply:  # pragma: no cover - unused
        raise NotImplementedError("OracleNamer delegates whole calls to its inner backend")

    def _swap(self, request: LLMRequest) -> tuple[LLMRequest, str | None]:
        name = self.names.get(request.feature or "")
        if request.role != "generalizer" or name is None or "Name their class." not in request.messages[-1]["content"]:
            return request, None
        return dataclasses.replace(request, messages=prompts.class_members_messages(name)), name

    @staticmethod
    def _named(result: LLMResult, name: str | None) -> LLMResult:
        if name is None or not result.ok:
            return result
        return dataclasses.replace(result, parsed=result.parsed.model_copy(update={"class_name": name}))

    def run(self, request: LLMRequest) -> LLMResult:
        swapped, name = self._swap(request)
        return self._named(self.inner.run(swapped), name)

    def complete_many(self, requests, *, max_workers=None, raise_unavailable=True) -> list[LLMResult]:
        swapped = [self._swap(r) for r in requests]
        results = self.inner.complete_many(
            [r for r, _ in swapped], max_workers=max_workers, raise_unavailable=raise_unavailable
        )
        return [self._named(result, name) for result, (_, name) in zip(results, swapped, strict=True)]


def agent_llm(args, out: Path) -> LLMBackend:
    """The agent's LLM: ``--llm``, every call recorded to ``OUT/calls.jsonl`` (replayable), answered from
    ``--agent-cache`` where a request is already there (quality.py's option of the same name)."""
    return agent_backend(make_llm(args.llm, record=out / "calls.jsonl"), args.agent_cache)


def real_runs(target, index, features, llm, config: AgentConfig, out: Path) -> pd.DataFrame:
    """SAGE on real features: one row per feature with whether it names a top peak token, and its cost."""
    rows = []
    for state in explain_features(target, features, llm, index=index, output_dir=out, config=config):
        peaks = peak_tokens(index.feature_data(target, state.feature))
        candidate = Candidate.from_run(state) if state.explanation is not None else None
        named = candidate is not None and names_peak(candidate, peaks)
        named_all = candidate is not None and names_peak(candidate, peaks, include_short=True)
        rows.append(
            {"feature": state.feature, "names_peak": named, "names_peak_all": named_all, "tokens": state.tokens,
             "calls": state.llm_calls}
        )  # fmt: skip
    return pd.DataFrame(rows)


def arm_row(name: str, planted: pd.DataFrame | None, real: pd.DataFrame | None) -> dict:
    row: dict = {"arm": name}
    if planted is not None and len(planted):
        row.update(planted_recovered=planted["recovered"].mean(), planted_names_peak=planted["names_peak"].mean())
        named = planted["recovered"] | planted["names_peak"]  # the concept or a top-3 peak token
        row.update(planted_named=named.mean(), planted_token_level_named=named[planted["token_level"]].mean())
        row.update(planted_n=len(planted))
    if real is not None and len(real):
        row.update(real_names_peak=real["names_peak"].mean(), real_names_peak_all=real["names_peak_all"].mean())
        row.update(real_n=len(real))
    frames = [f for f in (planted, real) if f is not None and len(f)]
    row["tokens_per_feature"] = pd.concat([f["tokens"] for f in frames]).mean() if frames else float("nan")
    return row


def real_setup(args):
    if not args.features:  # planted features only: no real target or index to load
        return None, None, []
    target = load_target()
    train = default_corpus().split(held_out=False)
    index = load_or_mine(target, corpus_contexts(train, target.tokenizer, max_contexts=args.contexts), train.name)
    return target, index, pick_features(index, args.features, args.seed) if args.features else []


def run_arms(
    args, arms: dict[str, AgentConfig], out: Path, dirs: dict[str, tuple[str, str]] | None = None
) -> pd.DataFrame:
    """Every arm on the planted and the real features; ``dirs`` maps an arm to its (planted, real) result folders
    under ``out`` (default ``{arm}/planted``, ``{arm}/real``). Finished runs found there are reused; the
    table is also written to ``out/{experiment}_arms.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    llm = agent_llm(args, out)
    names = args.planted.split(",") if args.planted else None
    target, index, features = real_setup(args)
    print("real features:", features, flush=True)
    rows = []
    for name, config in arms.items():
        if args.only and name not in args.only.split(","):
            continue
        planted_dir, real_dir = (dirs or {}).get(name, (f"{name}/planted", f"{name}/real"))
        planted = planted_recovery(llm, config, out / planted_dir, 4000, names) if names != ["none"] else None
        real = real_runs(target, index, features, llm, config, out / real_dir) if features else None
        print(f"-- {name}", flush=True)
        if planted is not None:
            print(planted.to_string(index=False), flush=True)
        if real is not None:
            print(real.to_string(index=False), flush=True)
        rows.append(arm_row(name, planted, real))
    table = pd.DataFrame(rows)
    table.to_csv(out / f"{args.experiment}_arms.csv", index=False)  # the compact result, beside the runs
    return table


def figures(table: pd.DataFrame, columns: tuple[str, ...]) -> str:
    """The last line: ``{arm}_{column}=value`` for every arm and each of ``columns`` the table has."""
    indexed = table.set_index("arm")
    return " ".join(
        f"{arm}_{col}={indexed.loc[arm, col]:.3f}" for arm in indexed.index for col in columns if col in indexed
    )


def designer(args, base: AgentConfig, out: Path) -> str:
    texts = default_corpus().split(held_out=True).sentences(2000, seed=args.seed)
    arms = {"designed": base, "random": dataclasses.replace(base, designer="random", random_texts=texts)}
    table = run_arms(args, arms, out)
    print(table.to_string(index=False))
    return figures(table, ("planted_recovered", "real_names_peak"))


def evidence(args, base: AgentConfig, out: Path) -> str:
    """With and without the computed evidence in the prompts, and with the evidence and the computed H1 (the local
    LLM's default). The ``no_evidence`` folders match ``quality.py --evidence-ablation`` (same ``--out``,
    ``--features 20``): its finished runs are reused and only the missing ones run."""
    arms = {
        "evidence": base,
        "no_evidence": dataclasses.replace(base, use_evidence=False),
        "evidence_computed": dataclasses.replace(base, computed_hypothesis=True),
    }
    table = run_arms(args, arms, out, {"no_evidence": NO_EVIDENCE_DIRS})
    print(table.to_string(index=False))
    columns = ("planted_recovered", "planted_token_level_named", "real_names_peak", "real_names_peak_all")
    return figures(table, (*columns, "tokens_per_feature"))


def computed(args, base: AgentConfig, out: Path) -> str:
    """The base loop against the loop that opens H1 with the computed sentence (same features, same bounds), its
    tests written by the designer (``computed_designed``) or minimal pairs from the mined contexts (``computed``)."""
    with_h1 = dataclasses.replace(base, computed_hypothesis=True)
    arms = {"llm": base, "computed_designed": dataclasses.replace(with_h1, pair_tests=False), "computed": with_h1}
    table = run_arms(args, arms, out)
    print(table.to_string(index=False))
    columns = ("planted_recovered", "planted_names_peak", "planted_token_level_named", "real_names_peak")
    return figures(table, (*columns, "tokens_per_feature"))


def hypotheses(args, base: AgentConfig, out: Path) -> str:
    counts = [int(c) for c in args.counts.split(",")]
    arms = {f"h{n}": dataclasses.replace(base, bounds=dataclasses.replace(base.bounds, hypotheses=n)) for n in counts}
    table = run_arms(args, arms, out)
    print(table.to_string(index=False))
    return figures(table, ("planted_recovered", "real_names_peak", "tokens_per_feature"))


def namer(args, base: AgentConfig, out: Path) -> str:
    """The loop against the loop whose generalizer is handed each planted concept's first label (``oracle_name``),
    on the planted features (real features have no label to hand). The loop's planted runs with the same settings
    (quality.py's, copied into ``OUT/generalizer/planted``) are reused."""
    out.mkdir(parents=True, exist_ok=True)
    llm = agent_llm(args, out)
    names = args.planted.split(",") if args.planted else None
    oracle = OracleNamer(llm, {str(f.index): f.labels[0] for f in planted_features()})
    rows = []
    for arm, agent in (("generalizer", llm), ("oracle_name", oracle)):
        if args.only and arm not in args.only.split(","):
            continue
        planted = planted_recovery(agent, base, out / arm / "planted", 4000, names)
        print(f"-- {arm}", flush=True)
        print(planted.to_string(index=False), flush=True)
        rows.append(arm_row(arm, planted, None))
    table = pd.DataFrame(rows)
    table.to_csv(out / "namer_arms.csv", index=False)
    print(table.to_string(index=False))
    return figures(table, ("planted_recovered", "planted_names_peak"))


def layers(args, base: AgentConfig, out: Path) -> str:
    if not args.saes:
        raise SystemExit("layers needs --saes DIR,DIR,... (SAELens folders, e.g. from sage-nb train-sae)")
    out.mkdir(parents=True, exist_ok=True)
    llm = make_llm(args.llm, record=out / "calls.jsonl")
    rows, parts = [], []
    for sae in args.saes.split(","):
        target = load_target(sae=sae)
        folder = out / "layers" / Path(sae).name  # results beside, never inside, the SAE's folder
        hook = target.hook.name
        index, held_index = indexes(target, args.contexts)
        features = pick_features(index, args.features, args.seed)
        runs = explain_features(target, features, llm, index=index, output_dir=folder, config=base)
        sage = [Candidate.from_run(s) for s in runs if s.explanation is not None]
        explained = OneShotExplainer(llm).explain_many([index.feature_data(target, f) for f in features])
        baseline = [c for c in explained if isinstance(c, Candidate)]
        report = evaluate(
            target, sage + baseline, llm, index=index, held_out=held_index, scorers=["gen", "simulation"],
            output_dir=folder / "eval", seed=args.seed, active=6, zeros=4,
        )  # fmt: skip
        table = report.table()
        table.insert(0, "sae", f"{Path(sae).name} ({hook})")
        rows.append(table)
        means = table.set_index(["metric", "explainer"])["mean"]
        parts += [
            f"{Path(sae).name}_{explainer}_{metric}={means.get((metric, explainer), float('nan')):.3f}"
            for explainer in ("sage", "baseline")
            for metric in ("gen", "simulation")
        ]
    print(pd.concat(rows).to_string(index=False))
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=["designer", "evidence", "computed", "hypotheses", "namer", "layers"])
    parser.add_argument("--planted", default=None, help="comma-separated planted feature names (default: all; none)")
    parser.add_argument("--features", type=int, default=5, help="real features of the shipped SAE (0: none)")
    parser.add_argument("--counts", default="1,2,4,8", help="hypothesis counts (hypotheses experiment)")
    parser.add_argument("--saes", default=None, help="comma-separated SAELens folders (layers experiment)")
    parser.add_argument("--contexts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", default="ablation_results")
    parser.add_argument("--llm", default="local", help="agent, explainer and scorer LLM (a make_llm spec)")
    parser.add_argument(
        "--agent-cache", default=None, help="earlier agent calls (JSONL) to answer repeated requests from"
    )
    parser.add_argument("--only", default=None, help="run only these arms (comma-separated), e.g. to split the work")
    parser.add_argument("--hypotheses", type=int, default=3, help="hypothesis slots of the base arm")
    parser.add_argument(
        "--loop",
        choices=["llm", "quality"],
        default="llm",
        help="base arm: every hypothesis from the LLM (llm), or quality.py's loop (the computed H1, the class step "
        "and the context probe: its planted runs with the same --hypotheses can be copied in as the designed arm)",
    )
    args = parser.parse_args()
    start = time.time()
    if args.loop == "quality":  # quality.py --generalize --context_probe
        base = loop_config(args.hypotheses, args.rounds, generalize=True, context_probe=True)
    else:  # every hypothesis from the LLM: the arms switch the computed H1 on where they compare it
        bounds = Bounds(hypotheses=args.hypotheses, rounds_per_hypothesis=args.rounds)
        base = AgentConfig(bounds, computed_hypothesis=False)
    experiments = {
        "designer": designer, "evidence": evidence, "computed": computed, "hypotheses": hypotheses, "namer": namer,
        "layers": layers,
    }  # fmt: skip
    line = experiments[args.experiment](args, base, Path(args.out))
    print(f"minutes={(time.time() - start) / 60:.1f}")
    print(line)


if __name__ == "__main__":
    main()
