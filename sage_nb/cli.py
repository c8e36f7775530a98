"""The ``sage-nb`` command line. Each subcommand is a thin shell over the package's functions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from sage_nb.config import DEFAULT_MODEL, DEFAULT_SAE


def _add_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sae_path", default=None, help=f"shipped SAE name, SAELens dir or sae-lens:// spec (default {DEFAULT_SAE})"
    )
    p.add_argument(
        "--target_llm", default=None, help="model name/path (default: the SAE's metadata, else the embedded one)"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")


def _quickstart(args: argparse.Namespace) -> int:
    from sage_nb.quickstart import run_quickstart

    run_quickstart(
        sae=args.sae_path,
        model=args.target_llm,
        device=args.device,
        contexts=args.contexts,
        features=args.features,
        html=args.html,
    )
    return 0


def _mine(args: argparse.Namespace) -> int:
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import corpus_from, default_corpus
    from sage_nb.data.index import load_or_mine
    from sage_nb.target import load_target

    target = load_target(model=args.target_llm, sae=args.sae_path, device=args.device)
    corpus = default_corpus().split(held_out=args.held_out) if args.corpus is None else corpus_from(args.corpus)
    contexts = corpus_contexts(corpus, target.tokenizer, max_contexts=args.contexts)
    index = load_or_mine(target, contexts, corpus.name, top_k=args.top_k)
    print(json.dumps({"tokens": index.n_tokens, "live_features": len(index.live_features()), "features": index.d_sae}))
    return 0


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


def build_parser() -> argparse.ArgumentParser:
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
    p.add_argument("--html", default=None, help="also write the feature views to this HTML file")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sage-nb`` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, IndexError, FileNotFoundError, ImportError, OSError) as err:
        print(f"sage-nb {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
