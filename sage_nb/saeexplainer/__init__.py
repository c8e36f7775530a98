"""Train an explainer model with activation-guided preference optimisation (the SAEExplainer method).

An instruct LM with a LoRA adapter learns to write one-sentence explanations of SAE features:

1. **warm-up SFT** on explanations of training features written by this package's own one-shot baseline
   (:class:`~sage_nb.explainers.one_shot.OneShotExplainer`) with the run's LLM (the embedded SmolLM2 offline);
2. each **DPO round** samples several explanations per feature from the current explainer, has the LLM write texts
   that express each one, **measures** the feature on those texts (the reward is the best text's maximum
   activation), turns the rewards into preference pairs, and trains with ``trl``'s DPO; held-out features' pairs
   pick the checkpoint;
3. the **base, SFT and DPO stages** explain held-out features and are scored with GEN and the input metric.

The explainer reads a feature either as its top exemplars (token/activation pairs, **exemplars-in**) or as the
SAE's decoder direction written into its residual stream at a placeholder token (**vector-in**).

>>> from sage_nb.saeexplainer import ExplainerTrainingConfig, train_explainer
>>> run = train_explainer(ExplainerTrainingConfig.tiny(), "runs/tiny")  # doctest: +SKIP
>>> run.progression()  # doctest: +SKIP

Command line: ``sage-nb train-explainer --out runs/explainer`` (``--tiny`` for the CI-sized run).
"""

from sage_nb.saeexplainer.config import ExplainerTrainingConfig
from sage_nb.saeexplainer.explainer import Explainer, ExplainerInputs, load_explainer_model
from sage_nb.saeexplainer.injection import VectorInjector, feature_directions, residual_norm
from sage_nb.saeexplainer.pairs import PairDecision, PairRules, build_pair, build_pairs
from sage_nb.saeexplainer.pipeline import TrainingRun, train_explainer
from sage_nb.saeexplainer.rewards import (
    CandidateExplanation,
    CandidateReward,
    candidate_rewards,
    measure_texts,
    text_score,
    write_texts,
)
from sage_nb.saeexplainer.split import FeatureSplit, LeakError, check_training_features, split_features
from sage_nb.saeexplainer.stages import ConfigMismatch, StageStore

__all__ = [
    "CandidateExplanation",
    "CandidateReward",
    "ConfigMismatch",
    "Explainer",
    "ExplainerInputs",
    "ExplainerTrainingConfig",
    "FeatureSplit",
    "LeakError",
    "PairDecision",
    "PairRules",
    "StageStore",
    "TrainingRun",
    "VectorInjector",
    "build_pair",
    "build_pairs",
    "candidate_rewards",
    "check_training_features",
    "feature_directions",
    "load_explainer_model",
    "measure_texts",
    "residual_norm",
    "split_features",
    "text_score",
    "train_explainer",
    "write_texts",
]
