"""The SAGE loop: parallel hypotheses about one SAE feature, tested on measured activations.

>>> state = explain(target, 123, "local", index=index, output_dir="results")  # doctest: +SKIP
>>> state.explanation.description, state.explanation.labels  # doctest: +SKIP
"""

from sage_nb.agent import prompts, states
from sage_nb.agent.api import SageExplainer, explain, explain_features, feature_folder, load_run
from sage_nb.agent.causal_tests import STEER_SCALE
from sage_nb.agent.loop import AgentConfig, SageLoop, computed_names, measurements
from sage_nb.agent.minimal_pairs import minimal_pairs
from sage_nb.agent.records import EvidenceItem, Explanation, Hypothesis, Measurement, RunState, Turn
from sage_nb.agent.results import RESULT_FILES, RunFolder, run_dir
from sage_nb.agent.states import Bounds, settle

__all__ = [
    "RESULT_FILES",
    "STEER_SCALE",
    "AgentConfig",
    "Bounds",
    "EvidenceItem",
    "Explanation",
    "Hypothesis",
    "Measurement",
    "RunFolder",
    "RunState",
    "SageExplainer",
    "SageLoop",
    "Turn",
    "computed_names",
    "explain",
    "explain_features",
    "feature_folder",
    "load_run",
    "measurements",
    "minimal_pairs",
    "prompts",
    "run_dir",
    "settle",
    "states",
]
