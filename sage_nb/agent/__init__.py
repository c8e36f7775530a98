"""The SAGE loop: parallel hypotheses about one SAE feature, tested on measured activations.

>>> state = explain(target, 123, "local", index=index, output_dir="results")  # doctest: +SKIP
>>> state.explanation.description, state.explanation.labels  # doctest: +SKIP
"""

from sage_nb.agent.api import explain, explain_features, load_run
from sage_nb.agent.loop import AgentConfig, SageLoop
from sage_nb.agent.records import EvidenceItem, Explanation, Hypothesis, Measurement, RunState, Turn
from sage_nb.agent.results import RunFolder, run_dir
from sage_nb.agent.states import Bounds

__all__ = [
    "AgentConfig",
    "Bounds",
    "EvidenceItem",
    "Explanation",
    "Hypothesis",
    "Measurement",
    "RunFolder",
    "RunState",
    "SageLoop",
    "Turn",
    "explain",
    "explain_features",
    "load_run",
    "run_dir",
]
