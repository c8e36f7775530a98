"""Train an explainer with activation-guided DPO at the default config and compare its stages on held-out features.

Runs :func:`sage_nb.saeexplainer.train_explainer` with ``ExplainerTrainingConfig()`` (embedded SmolLM2-135M as
explainer, teacher, reward writer and scorer LLM; sized for about an hour on 2 CPU cores) into ``--out`` (resumable:
run the same command again after an interruption). Prints the progression table (every metric per stage), then on
its last line ``gen_base=<x> gen_dpo=<y> minutes=<m>``: the mean GEN of the untrained explainer and of the last DPO
round on the test features, and the minutes spent in all stages (model loading and mining included, since they
happen inside the first stage that needs them).

    python benchmarks/saeexplainer.py [--out saeexplainer_run] [--input_style vector] [--llm local-capable]
        [--n_train 12 --n_val 4 --n_test 6 --candidates 6 --reward_texts 4 --dpo_rounds 2]

``--llm`` names the teacher, the reward-text writer and the scorer (the explainer being trained stays the 135M);
with ``local-capable`` each of their calls (one per reward text: ``candidates x reward_texts`` per feature and
round) is a 1.5B call, so the run is many times longer than with the default; the size flags shrink it (a run's
sizes are part of its settings, so a resumed run must repeat them).
"""

from __future__ import annotations

import argparse

from sage_nb.saeexplainer import ExplainerTrainingConfig, train_explainer
from sage_nb.saeexplainer.config import BASE, dpo_stage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="saeexplainer_run")
    parser.add_argument("--input_style", choices=["exemplars", "vector"], default="exemplars")
    parser.add_argument("--llm", default="local", help="teacher, reward-text writer and scorer LLM (a make_llm spec)")
    sizes = ("n_train", "n_val", "n_test", "candidates", "reward_texts", "dpo_rounds")
    for name in sizes:
        parser.add_argument(f"--{name}", type=int, default=None, help=f"ExplainerTrainingConfig.{name} (default: its)")
    args = parser.parse_args()

    sized = {name: getattr(args, name) for name in sizes if getattr(args, name) is not None}
    cfg = ExplainerTrainingConfig(input_style=args.input_style, llm=args.llm, **sized)
    run = train_explainer(cfg, args.out)
    print(run.progression().to_string(index=False))
    means = run.summary["means"]
    last = dpo_stage(cfg.dpo_rounds)
    print(f"ran: {run.ran}; skipped (finished earlier): {run.skipped}")
    print(
        f"gen_base={means[f'gen_{BASE}']:.4f} gen_dpo={means[f'gen_{last}']:.4f} minutes={run.summary['stage_minutes']}"
    )


if __name__ == "__main__":
    main()
