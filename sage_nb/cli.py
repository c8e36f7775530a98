"""The ``sage-nb`` command line. Each subcommand is a thin shell over the package's functions.

Help and argument errors answer without importing torch (every heavy import happens inside a command), and options
are checked before anything slow starts. Exit codes: 0 done; 1 a feature's run failed (``failure.json`` in its
folder, and the same command tries it again); 2 a bad option, input or setup, said in one line that names the
fix; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from sage_nb.config import DEFAULT_MODEL, DEFAULT_SAE
from sage_nb.specs import (
    check_device,
    check_llm,
    device_form,
    load_explain_target,
    make_agent_llm,
    mine_exemplars,
    read_explanations,
    stored_exemplars,
)

#: Where ``sage-nb quickstart`` writes its page of feature views (in the current folder).
QUICKSTART_HTML = "sage_nb_quickstart.html"
#: Set to 1 to see the traceback of an unexpected error instead of its one-line summary.
TRACEBACK_ENV = "SAGE_NB_TRACEBACK"


def _add_target_args(p: argparse.ArgumentParser, planted: bool = False) -> None:
    sae_help = (
        f"shipped SAE name, SAELens dir or sae-lens:// spec (default {DEFAULT_SAE}); neuronpedia://MODEL/SOURCE "
        "measures through the Neuronpedia API (key from $NEURONPEDIA_API_KEY; responses cached)"
    )
    if planted:
        sae_help += "; 'planted': the 12 planted ground-truth features (tokenizer only, no model)"
    p.add_argument("--sae_path", default=None, help=sae_help)
    p.add_argument(
        "--target_llm", default=None, help="model name/path (default: the SAE's metadata, else the embedded one)"
    )
    p.add_argument("--device", default="cpu", type=_device, help="cpu, cuda, cuda:1, mps")


def _quickstart(args: argparse.Namespace) -> int:
    from sage_nb.quickstart import run_quickstart

    check_device(args.device)
    run_quickstart(
        sae=args.sae_path,
        model=args.target_llm,
        device=args.device,
        contexts=args.contexts,
        features=args.features,
        html=None if args.no_html else args.html,
    )
    return 0


def _mine(args: argparse.Namespace) -> int:
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import corpus_from, default_corpus
    from sage_nb.data.index import load_or_mine
    from sage_nb.targets import load_target

    check_device(args.device)
    target = load_target(model=args.target_llm, sae=args.sae_path, device=args.device)
    corpus = default_corpus().split(held_out=args.held_out) if args.corpus is None else corpus_from(args.corpus)
    contexts = corpus_contexts(corpus, target.tokenizer, max_contexts=args.contexts)
    index = load_or_mine(target, contexts, corpus.name, top_k=args.top_k)
    print(json.dumps({"tokens": index.n_tokens, "live_features": len(index.live_features()), "features": index.d_sae}))
    return 0


def agent_config(args: argparse.Namespace) -> Any:
    """The run's :class:`~sage_nb.agent.AgentConfig` (bounds included) from the ``explain`` options."""
    from sage_nb.agent import AgentConfig, Bounds

    bounds = Bounds(
        hypotheses=args.hypotheses,
        rounds_per_hypothesis=args.max_rounds,
        review_rounds=args.review_rounds,
        llm_calls=args.max_llm_calls,
        tokens=args.token_budget,
    )
    return AgentConfig(
        bounds=bounds,
        top_k=args.top_k,
        use_evidence=not args.no_evidence,
        computed_hypothesis=args.computed_hypothesis,
        pair_tests=not args.no_pair_tests,
        generalize=args.generalize,
        context_probe=args.context_probe,
    )


def run_summary(state: Any, folder: Any) -> dict[str, Any]:
    """The JSON line printed for one feature's run."""
    from sage_nb.agent.results import result_labels, run_outcome

    expl = state.explanation
    return {
        "feature": state.feature,
        "status": state.stop_reason or ("done" if state.done else state.phase),
        "outcome": run_outcome(state) if state.done else None,
        "labels": result_labels(state),
        "description": expl.description if expl else "",
        "llm_calls": state.llm_calls,
        "tokens": state.tokens,
        "folder": str(folder.path),
    }


def _explain(args: argparse.Namespace) -> int:
    from sage_nb.agent.api import explain_features, feature_folder, parse_features
    from sage_nb.llm import LLMUnavailable

    if args.workers > 1:
        return _explain_batch(args)
    check_device(args.device)
    config = agent_config(args)
    target = load_explain_target(args.sae_path, args.target_llm, args.device)
    features = parse_features(args.features, target)
    llm = make_agent_llm(args.agent_llm, args.record, args.device)
    check_llm(llm)  # an unreachable LLM is said now, not after mining
    index = stored_exemplars(target, features)
    if index is None:
        index = mine_exemplars(target, args.contexts)
    try:
        states = explain_features(
            target, features, llm, index=index, output_dir=args.output_dir, config=config, overwrite=args.overwrite
        )
    except LLMUnavailable as err:
        print(f"sage-nb explain: error: {err} (finished steps are saved: run the same command again to resume)",
              file=sys.stderr)  # fmt: skip
        return 1
    for state in states:
        print(json.dumps(run_summary(state, feature_folder(args.output_dir, llm, target, state.feature))))
    return 0


def _explain_batch(args: argparse.Namespace) -> int:
    """``explain --workers N``: the features fanned out over N processes (see :mod:`sage_nb.agent.batch`)."""
    from sage_nb.agent.batch import BatchSpec, run_batch
    from sage_nb.agent.results import RunFolder

    if args.record is not None:
        raise ValueError("--record writes one file from one process: use it with --workers 1")
    devices = args.devices or [args.device]
    for device in dict.fromkeys(devices):
        check_device(device)
    spec = BatchSpec(
        sae=args.sae_path,
        target_llm=args.target_llm,
        agent_llm=args.agent_llm,
        config=agent_config(args),
        contexts=args.contexts,
        overwrite=args.overwrite,
    )
    try:
        outcomes = run_batch(spec, args.features, args.output_dir, workers=args.workers, devices=devices)
    except KeyboardInterrupt:
        print("sage-nb explain: interrupted (finished steps are saved: run the same command again to resume)",
              file=sys.stderr)  # fmt: skip
        return 130
    code = 0
    for outcome in outcomes:
        if outcome.status in ("done", "skipped"):
            folder = RunFolder(outcome.folder)
            print(json.dumps(run_summary(folder.load(), folder)))
        elif outcome.status == "refused":
            print(f"sage-nb explain: error: feature {outcome.feature}: {outcome.error}", file=sys.stderr)
            code = max(code, 2)
        else:
            where = f" (recorded in {outcome.folder})" if outcome.folder is not None else ""
            print(f"sage-nb explain: feature {outcome.feature} {outcome.status}: {outcome.error}{where}",
                  file=sys.stderr)  # fmt: skip
            code = max(code, 1)
    return code


def _device(text: str) -> str:
    """An argparse type: a device written as one (cpu, cuda, cuda:N, mps)."""
    try:
        return device_form(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _devices(text: str) -> list[str]:
    """An argparse type: comma-separated devices (``cuda:0,cuda:1``), each written as a device."""
    devices = [_device(d) for d in text.split(",") if d.strip()]
    if not devices:
        raise argparse.ArgumentTypeError("give at least one device, e.g. cuda:0,cuda:1")
    return devices


def _simulation(mode: str, filler: str | None) -> Any:
    """The simulation scorer in ``mode``, a forced one's slots filled with ``filler`` (None: the scorer's default;
    imported here: the evaluate layer loads torch)."""
    from sage_nb.evaluate.simulation import SimulationScorer

    if filler is None:
        return SimulationScorer(mode=mode)  # type: ignore[arg-type]  # argparse choices
    return SimulationScorer(mode=mode, filler=filler)  # type: ignore[arg-type]


def _scorers(text: str) -> list[str]:
    """An argparse type: comma-separated scorer names, each one :mod:`sage_nb.evaluate.report` knows."""
    from sage_nb.evaluate.report import SCORERS  # light: no torch

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCORERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown scorer(s) {', '.join(map(repr, unknown)) or '(none given)'}: use {', '.join(SCORERS)}"
        )
    return names


def _positive_int(text: str, minimum: int = 1) -> int:
    """An argparse type: an integer of at least ``minimum`` (1)."""
    value = int(text)
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    return _positive_int(text, minimum=0)


def _train_sae(args: argparse.Namespace) -> int:
    from sage_nb.training.sae_training import SAETrainingConfig, train_sae

    cfg = SAETrainingConfig.tiny() if args.tiny else SAETrainingConfig()
    for name in ("hook_name", "d_sae", "k", "train_tokens", "epochs", "seed", "model"):
        value = getattr(args, name)
        if value is not None:
            setattr(cfg, name, value)
    report = train_sae(cfg, args.out)
    print(json.dumps({k: v for k, v in report.items() if k != "config"}, indent=2))
    return 0


def _train_explainer(args: argparse.Namespace) -> int:
    from sage_nb.saeexplainer import ExplainerTrainingConfig, train_explainer

    values = {}
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            values = json.load(f)
    for name in ("input_style", "llm", "device", "seed", "n_train", "n_test", "candidates", "dpo_rounds"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    cfg = ExplainerTrainingConfig.tiny(**values) if args.tiny else ExplainerTrainingConfig.from_dict(values)
    run = train_explainer(cfg, args.out)
    print(run.progression().to_string(index=False))
    print(json.dumps({k: v for k, v in run.summary.items() if k != "stages"}))
    return 0


def finished_runs(args: argparse.Namespace, target: Any, features: list[int], llm: Any) -> list:
    """The finished SAGE runs of ``features`` in ``--sage_dir`` (a missing one is reported on stderr).

    Raises ValueError when a run there was made on another target (another SAE, model or hook).
    """
    from sage_nb.agent.api import feature_folder, finished_run
    from sage_nb.data.identity import TargetIdentity, target_identity

    sage_llm = make_agent_llm(args.sage_llm, None, args.device) if args.sage_llm != args.llm else llm
    now = target_identity(target)
    runs = []
    for feature in features:
        folder = feature_folder(args.sage_dir, sage_llm, target, feature)
        stored = folder.stored_settings()
        if stored is not None and stored.target and not TargetIdentity.from_dict(stored.target).same_as(now):
            was = TargetIdentity.from_dict(stored.target).describe()
            raise ValueError(
                f"{folder.path} holds a SAGE run of {was}, but this evaluation's target is {now.describe()}: give "
                "the --sae_path / --target_llm of that run, or --sage_dir of runs of this target"
            )
        state = finished_run(folder)
        if state is not None:
            runs.append(state)
        else:
            print(f"sage-nb evaluate: no finished SAGE run for feature {feature} in {folder.path}", file=sys.stderr)
    return runs


def baseline_candidates(llm: Any, target: Any, features: list[int], index: Any) -> list:
    """One-shot baseline explanations (a failed one is reported on stderr and left out)."""
    from sage_nb.explainers.one_shot import OneShotExplainer

    explained = OneShotExplainer(llm).explain_many([index.feature_data(target, f) for f in features])
    for item in explained:
        if isinstance(item, Exception):
            print(f"sage-nb evaluate: baseline failed on feature {item.feature}: {item.error}", file=sys.stderr)
    return [c for c in explained if not isinstance(c, Exception)]


def top_tokens_candidates(args: argparse.Namespace, target: Any, features: list[int], index: Any) -> list:
    """The explanations computed from the evidence alone (``--top_tokens``); a feature that never fired is left out."""
    if not args.top_tokens:
        return []
    from sage_nb.explainers.top_tokens import TopTokensExplainer

    explained = TopTokensExplainer().explain_many([index.feature_data(target, f) for f in features])
    for item in explained:
        if isinstance(item, Exception):
            print(f"sage-nb evaluate: top-tokens failed on feature {item.feature}: {item.error}", file=sys.stderr)
    return [c for c in explained if not isinstance(c, Exception)]


def _evaluate(args: argparse.Namespace) -> int:
    from sage_nb.agent.api import parse_features
    from sage_nb.evaluate.report import candidates_from, evaluate

    check_device(args.device)
    user = read_explanations(args.explanations) if args.explanations else None
    target = load_explain_target(args.sae_path, args.target_llm, args.device)
    features = parse_features(args.features, target)
    llm = make_agent_llm(args.llm, None, args.device)
    check_llm(llm)  # an unreachable LLM is said now, not after mining
    if user:
        user = {f: user[f] for f in target.check_features(sorted(user))}
    runs = finished_runs(args, target, features, llm)
    index = held = stored_exemplars(target, features)  # Neuronpedia: its interval samples are the held-out ones
    stored = target.candidates(features) if index is not None else []  # Neuronpedia's own explanations
    if not runs and not user and not stored and args.no_baseline and not args.top_tokens:
        raise ValueError(
            "nothing to evaluate: no SAGE runs found, the baseline is off and no --explanations or --top_tokens given"
        )
    if index is None:
        index = mine_exemplars(target, args.contexts)
        held = mine_exemplars(target, args.held_out_contexts, held_out=True)
    baseline = [] if args.no_baseline else baseline_candidates(llm, target, features, index)
    candidates = candidates_from(runs, baseline, user) + stored + top_tokens_candidates(args, target, features, index)
    scorers = [_simulation(args.sim_mode, args.sim_filler) if name == "simulation" else name for name in args.scorers]
    report = evaluate(
        target, candidates, llm, index=index, held_out=held, scorers=scorers,
        representation=args.representation, output_dir=args.output_dir, seed=args.seed,
    )  # fmt: skip
    print(report.table().to_string(index=False))
    if {"sage", "baseline"} <= {c.explainer for c in candidates}:
        print(report.compare_frame().to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from sage_nb.agent import AgentConfig, Bounds
    from sage_nb.llm.factory import SPEC_FORMS

    parser = argparse.ArgumentParser(
        prog="sage-nb",
        description="Explain SAE features of language models. Every command works offline on the embedded default.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "quickstart",
        help="load the embedded model + SAE, mine exemplars, print a few features",
        epilog="example: sage-nb quickstart --contexts 400 --features 10,42 --html features.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_target_args(p)
    p.add_argument("--contexts", type=int, default=600, help="corpus contexts (128 tokens each) to mine")
    p.add_argument("--features", default=None, help="comma-separated feature indices (default: 3 seeded live features)")
    p.add_argument(
        "--html",
        default=QUICKSTART_HTML,
        help="write the feature views to this self-contained HTML page (default %(default)s; opens offline)",
    )
    p.add_argument("--no_html", action="store_true", help="print the features only")
    p.set_defaults(func=_quickstart)

    p = sub.add_parser(
        "mine",
        help="one pass over a corpus: top contexts, samples, densities and histograms for all features (cached)",
        epilog="example: sage-nb mine --contexts 4000\n         sage-nb mine --corpus my_texts/ --contexts 2000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_target_args(p)
    p.add_argument("--corpus", default=None, help="text file or folder of .txt files (default: the stdlib corpus)")
    p.add_argument("--held_out", action="store_true", help="mine the held-out split of the default corpus")
    p.add_argument("--contexts", type=int, default=4000)
    p.add_argument("--top_k", type=int, default=20)
    p.set_defaults(func=_mine)

    bounds, defaults = Bounds(), AgentConfig()
    p = sub.add_parser(
        "explain",
        help="run the SAGE agent on features: hypotheses tested on measured activations, results in SAGE's layout",
        epilog="example: sage-nb explain --features 100,101                      # embedded model, SAE and agent LLM\n"
        "         sage-nb explain --sae_path planted --features weekday,digit  # planted ground truth, no SAE\n"
        "         sage-nb explain --features 'layer8=100,101' --max_rounds 3   # SAGE's form (the SAE's layer)\n"
        "         sage-nb explain --features 100 --agent_llm openai-compatible:qwen2.5:7b@http://127.0.0.1:11434/v1\n"
        "         sage-nb explain --features 100,101,102,103 --workers 2 --devices cuda:0,cuda:1  # a process per GPU\n"
        "results go to OUTPUT_DIR/AGENT_LLM/TARGET_LLM/layer_L/feature_F/; finished features are skipped and\n"
        "interrupted ones resumed, so the same command continues a batch",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_target_args(p, planted=True)
    p.add_argument(
        "--features",
        required=True,
        help="'100,101' or SAGE's 'layer8=100,101' (groups joined by ';'; the layer must be the SAE's); "
        "names for --sae_path planted",
    )
    p.add_argument(
        "--agent_llm",
        default="local",
        help=f"the agent's LLM: {', '.join(SPEC_FORMS)} (default %(default)s)",
    )
    p.add_argument(
        "--max_rounds",
        type=_positive_int,
        default=bounds.rounds_per_hypothesis,
        help="design rounds per hypothesis (default %(default)s)",
    )
    p.add_argument(
        "--hypotheses",
        type=_positive_int,
        default=bounds.hypotheses,
        help="hypotheses proposed at once (default %(default)s)",
    )
    p.add_argument(
        "--max_llm_calls",
        type=_positive_int,
        default=bounds.llm_calls,
        help="LLM calls per feature (default %(default)s)",
    )
    p.add_argument(
        "--token_budget", type=_positive_int, default=bounds.tokens, help="LLM tokens per feature (default %(default)s)"
    )
    p.add_argument(
        "--review_rounds",
        type=_non_negative_int,
        default=bounds.review_rounds,
        help="times the reviewer may ask for more tests (default %(default)s)",
    )
    p.add_argument(
        "--top_k",
        type=_positive_int,
        default=defaults.top_k,
        help="exemplars shown to the explainer (default %(default)s)",
    )
    p.add_argument(
        "--contexts",
        type=_positive_int,
        default=2000,
        help="corpus contexts (128 tokens each) mined for exemplars, cached (default %(default)s)",
    )
    p.add_argument("--output_dir", default="results", help="results folder (default %(default)s)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a feature's run made with other settings (SAE, exemplars, agent options or LLMs); without it "
        "such a run is refused. Runs made with the same settings are still resumed or skipped",
    )
    p.add_argument("--no_evidence", action="store_true", help="leave the computed evidence summary out of prompts")
    computed = p.add_mutually_exclusive_group()
    computed.add_argument(
        "--computed_hypothesis",
        action="store_const",
        const=True,
        default=None,
        help="open H1 with the sentence computed from the evidence, tested like the LLM's hypotheses (default: on "
        "for the local LLM when the evidence is used, off for others)",
    )
    computed.add_argument(
        "--no_computed_hypothesis",
        dest="computed_hypothesis",
        action="store_const",
        const=False,
        help="let the LLM write every hypothesis, also with the local LLM",
    )
    p.add_argument(
        "--no_pair_tests",
        action="store_true",
        help="let the LLM designer test the computed H1 (default: minimal pairs from the mined contexts)",
    )
    p.add_argument(
        "--generalize",
        action="store_true",
        help="with the computed H1, open H2 as the class of its tokens, tested on members the exemplars never showed",
    )
    p.add_argument(
        "--context_probe",
        action="store_true",
        help="with the computed H1, measure its words in plain sentences and say whether the feature needs context",
    )
    p.add_argument("--record", default=None, metavar="PATH", help="record every LLM call to PATH (for replay:PATH)")
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="worker processes, each with its own target and LLM, sharing the features (default %(default)s)",
    )
    p.add_argument(
        "--devices",
        default=None,
        type=_devices,
        help="devices of the workers in turn, e.g. cuda:0,cuda:1 (default: --device)",
    )
    p.set_defaults(func=_explain)

    p = sub.add_parser(
        "evaluate",
        help="score SAGE, the one-shot baseline and your own explanations on held-out text (tables, JSON, tests)",
        epilog="example: sage-nb explain --features 100,101 && sage-nb evaluate --features 100,101\n"
        "         sage-nb evaluate --sae_path planted --features digit --scorers gen,detection\n"
        '         sage-nb evaluate --features 100 --no_baseline --explanations mine.json   # {"100": "..."}\n'
        "writes OUTPUT_DIR/feature_F_comparison.json and summary.json; LLM calls and measurements are cached there",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_target_args(p, planted=True)
    p.add_argument("--features", required=True, help="as for explain")
    p.add_argument("--llm", default="local", help="LLM of the scorers and the baseline (default %(default)s)")
    p.add_argument("--sage_dir", default="results", help="explain's --output_dir to read SAGE runs from")
    p.add_argument("--sage_llm", default="local", help="the agent LLM of those runs (default %(default)s)")
    p.add_argument("--no_baseline", action="store_true", help="do not run the one-shot baseline explainer")
    p.add_argument("--explanations", default=None, metavar="JSON", help="your explanations: {feature: text}")
    p.add_argument(
        "--top_tokens", action="store_true", help="also score the explanation computed from the evidence (no LLM)"
    )
    p.add_argument(
        "--scorers",
        default="gen,simulation,detection,input",
        type=_scorers,
        help="comma-separated (default %(default)s)",
    )
    p.add_argument(
        "--sim_mode",
        choices=["all_at_once", "forced", "per_token"],
        default="all_at_once",
        help="how simulation reads the LLM: all_at_once (it writes one number per token; any backend) or forced "
        "(one number read after each token; the llama.cpp engine, better with small models)",
    )
    p.add_argument(
        "--sim_filler",
        choices=["zero", "unknown"],
        default=None,
        help="what the earlier slots of a forced reading hold (default: the scorer's; see docs/benchmarks.md)",
    )
    p.add_argument("--representation", choices=["description", "labels"], default="description")
    p.add_argument("--contexts", type=_positive_int, default=2000, help="contexts mined for exemplars")
    p.add_argument("--held_out_contexts", type=_positive_int, default=1000, help="held-out contexts for samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output_dir", default="evaluation", help="where reports and caches go (default %(default)s)")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "train-sae",
        help="train an SAE on the embedded model (the shipped SAE's reproducible recipe)",
        epilog=f"example: sage-nb train-sae --out my_sae            # the shipped recipe ({DEFAULT_SAE})\n"
        "         sage-nb train-sae --tiny --out /tmp/tiny    # a few seconds\n"
        "         sage-nb train-sae --hook_name blocks.20.hook_resid_post --out l20",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, help="output directory (SAELens format)")
    p.add_argument("--tiny", action="store_true", help="tiny budgets, for tests")
    p.add_argument("--model", default=None, help=f"embedded model name or HF path (default {DEFAULT_MODEL})")
    p.add_argument("--hook_name", default=None)
    p.add_argument("--d_sae", type=int, default=None)
    p.add_argument("--k", type=int, default=None)
    p.add_argument("--train_tokens", type=int, default=None)
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=_train_sae)

    p = sub.add_parser(
        "train-explainer",
        help="train an explainer LM with activation-guided DPO (SFT, DPO rounds, evaluation of every stage)",
        epilog="example: sage-nb train-explainer --out runs/explainer          # default config, about 1 h on 2 cores\n"
        "         sage-nb train-explainer --tiny --out /tmp/tiny          # a few minutes\n"
        "         sage-nb train-explainer --config cfg.json --out runs/big  # any ExplainerTrainingConfig fields\n"
        "a finished stage is never redone: the same command resumes an interrupted run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, help="output folder (resumable)")
    p.add_argument("--tiny", action="store_true", help="the CI-sized config")
    p.add_argument("--config", default=None, metavar="JSON", help="ExplainerTrainingConfig fields as a JSON object")
    p.add_argument("--input_style", choices=["exemplars", "vector"], default=None)
    p.add_argument("--llm", default=None, help="teacher, reward-text and scorer LLM (default local)")
    p.add_argument("--device", default=None, help="cpu, cuda ...")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--n_train", type=_positive_int, default=None)
    p.add_argument("--n_test", type=_positive_int, default=None)
    p.add_argument("--candidates", type=_positive_int, default=None)
    p.add_argument("--dpo_rounds", type=_positive_int, default=None)
    p.set_defaults(func=_train_explainer)

    p = sub.add_parser(
        "serve-llm",
        help="serve an embedded chat model (or a .gguf) over an OpenAI-compatible API with llama.cpp",
        epilog="example: sage-nb serve-llm qwen2.5-coder-1.5b --port 8080\n"
        "then, in any notebook: make_llm('openai-compatible:qwen2.5-coder-1.5b@http://127.0.0.1:8080/v1')",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", nargs="?", default="smollm2-135m", help="smollm2-135m, qwen2.5-coder-1.5b or a .gguf path")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_positive_int, default=8080)
    p.add_argument("--n_ctx", type=_positive_int, default=8192)
    p.add_argument("--threads", type=_positive_int, default=None, help="llama.cpp threads (default: the free cores)")
    p.set_defaults(func=_serve_llm)
    return parser


def _serve_llm(args: argparse.Namespace) -> int:
    import subprocess

    from sage_nb.llm.server import server_argv

    name, argv = server_argv(args.model, host=args.host, port=args.port, n_ctx=args.n_ctx, n_threads=args.threads)
    print(f"serving {name} at http://{args.host}:{args.port}/v1 (Ctrl-C stops it); use it with")
    print(f"  make_llm('openai-compatible:{name}@http://{args.host}:{args.port}/v1')", flush=True)
    return subprocess.call(argv)


class _StderrHandler(logging.StreamHandler):
    """Log records on whatever ``sys.stderr`` is at the time (tests redirect it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def show_progress_notes() -> None:
    """Print the package's INFO notes (e.g. that a call is still waiting on the LLM, and where) on stderr."""
    logger = logging.getLogger("sage_nb")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("sage-nb: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _one_line(err: BaseException) -> str:
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(text.split()) or type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sage-nb`` command."""
    args = build_parser().parse_args(argv)
    show_progress_notes()
    from sage_nb.llm.errors import LLMError

    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"sage-nb {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, IndexError, KeyError, OSError, ImportError, LLMError) as err:
        # a bad option, input, file or setup, or an LLM that cannot be used: one line that names the fix
        print(f"sage-nb {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:
        if os.environ.get(TRACEBACK_ENV):
            raise
        print(f"sage-nb {args.command}: error: {type(err).__name__}: {_one_line(err)} (unexpected: set "
              f"{TRACEBACK_ENV}=1 to see where it came from)", file=sys.stderr)  # fmt: skip
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
