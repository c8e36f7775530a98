"""Re-judge the recorded syntheses of finished SAGE runs with the current synthesis checks (no LLM call).

The loop keeps an LLM's final description only when it rests on an accepted hypothesis, names the accepted class
and names no member that a refuted class's substitutions showed silent; otherwise the explanation lists the
accepted claims. This reads every ``state.json`` under the given folders and prints, per run, which explanation
the recorded run kept and which the current checks would keep, with the refuted members they find named.

    python benchmarks/synthesis_rejudge.py benchmarks/results/quality_qwen_s1/sage_class_context

Last line: ``runs=<n> kept_then=<written syntheses kept> kept_now=<kept by the current checks> changed=<runs>``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sage_nb.agent.records import RunState
from sage_nb.agent.states import names_accepted_class, names_refuted_members, rests_on_accepted
from sage_nb.core.text import undo_prompt_marks


def rejudge(state: RunState) -> tuple[bool, list[str]] | None:
    """Whether the current checks keep the run's written synthesis, and the refuted members it names (None when the
    synthesis call failed)."""
    turn = next((t for t in reversed(state.turns) if t.role == "synthesis"), None)
    if turn is None or not turn.reply:
        return None
    description = undo_prompt_marks(turn.reply["description"])
    labels = [undo_prompt_marks(label) for label in turn.reply["labels"] if undo_prompt_marks(label)]
    said = " ".join([description, *labels])
    refuted = names_refuted_members(description, labels, state.hypotheses)
    kept = rests_on_accepted(said, state.hypotheses) and names_accepted_class(said, state.hypotheses)
    return kept and not refuted, refuted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+", help="folders holding finished runs (searched for state.json)")
    args = parser.parse_args()
    runs = then = now = changed = 0
    for folder in args.folders:
        for path in sorted(Path(folder).rglob("state.json")):
            state = RunState.from_dict(json.loads(path.read_text(encoding="utf-8")))
            judged = rejudge(state)
            if judged is None or state.explanation is None:
                continue
            kept, refuted = judged
            before = state.explanation.source != "hypotheses"
            runs, then, now, changed = runs + 1, then + before, now + kept, changed + (before != kept)
            said = "written" if kept else "claims"
            print(f"feature {state.feature}: kept {'written' if before else 'claims'} then, {said} now {refuted}")
    print(f"runs={runs} kept_then={then} kept_now={now} changed={changed}")


if __name__ == "__main__":
    main()
