"""Every setting of an explainer-training run, in one dataclass, and the names of the files a run writes.

:class:`ExplainerTrainingConfig` holds the defaults (sized for 2 CPU cores, about an hour) and
:meth:`ExplainerTrainingConfig.tiny` the CI-sized run that goes through the same code in a few minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from sage_nb.config import DEFAULT_MODEL

InputStyle = Literal["exemplars", "vector"]
INPUT_STYLES: tuple[str, ...] = ("exemplars", "vector")

#: Files and folders of a run's output folder (one source of truth for the layout).
CONFIG_FILE = "config.json"
STAGES_FILE = "stages.json"
SPLIT_FILE = "split.json"
LLM_CACHE_FILE = "llm_cache.jsonl"
TEACHER_FILE = "teacher.parquet"
CANDIDATES_FILE = "candidates.parquet"
TEXTS_FILE = "texts.parquet"
REWARDS_FILE = "rewards.parquet"
PAIRS_FILE = "pairs.parquet"
DECISIONS_FILE = "decisions.parquet"
ADAPTER_DIR = "adapter"
HISTORY_FILE = "log_history.json"
CURVE_FILE = "curve.png"
TRAIN_SUMMARY_FILE = "training.json"
EXPLANATIONS_FILE = "explanations.parquet"
PROGRESSION_CSV = "progression.csv"
PROGRESSION_PLOT = "progression.png"
SUMMARY_FILE = "summary.json"

#: The explainer stages, in the order they are trained and evaluated (``dpo1``.. one per DPO round).
BASE, SFT, TEACHER = "base", "sft", "teacher"


def dpo_stage(round_: int) -> str:
    """The stage name of DPO round ``round_`` (1-based): ``dpo1``, ``dpo2`` ..."""
    return f"dpo{round_}"


@dataclass
class ExplainerTrainingConfig:
    """Everything that decides an explainer-training run. The defaults finish on 2 CPU cores in about an hour.

    >>> cfg = ExplainerTrainingConfig(n_train=32, candidates=8)  # doctest: +SKIP
    """

    # -- target, corpus and features --------------------------------------------------------------------------
    sae: str | None = None  #: the SAE whose features are explained (None: the shipped one)
    target_model: str | None = None  #: the target model (None: from the SAE's metadata)
    contexts: int = 2000  #: training-split corpus contexts mined for exemplars
    held_out_contexts: int = 1000  #: held-out-split contexts mined for evaluation samples
    n_train: int = 12  #: features whose explanations train the explainer
    n_val: int = 4  #: held-out features whose preference pairs select checkpoints (never trained on)
    n_test: int = 6  #: held-out features the stages are evaluated on (never trained on, never used to select)
    min_density: float = 0.001  #: rarer features are not sampled (LLM-written texts almost never reach them)
    max_density: float = 0.02  #: nor are denser ones (mostly uninterpretable)
    seed: int = 0

    # -- the explainer ----------------------------------------------------------------------------------------
    explainer_model: str = DEFAULT_MODEL  #: embedded name, local directory or Hub id of an instruct LM
    input_style: InputStyle = "exemplars"  #: 'exemplars' (token/activation pairs) or 'vector' (injected direction)
    top_k: int = 5  #: exemplars in an exemplars-in prompt
    inject_layer: int = 2  #: decoder block whose output carries the feature direction (vector-in)
    placeholder: str = "<empty_output>"  #: a single-token string whose position receives the direction
    norm_contexts: int = 32  #: corpus contexts that measure the typical residual norm at ``inject_layer``
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    max_new_tokens: int = 40  #: longest explanation, in tokens
    generate_batch: int = 12  #: prompts per explainer ``generate`` call

    # -- LLM of the teacher and of the reward texts ----------------------------------------------------------
    llm: str = "local"  #: a :func:`~sage_nb.llm.make_llm` spec
    llm_batch_size: int = 8  #: requests per batched call of a local LLM

    # -- candidates and rewards ------------------------------------------------------------------------------
    candidates: int = 6  #: explanations sampled per feature and round
    temperature: float = 0.9
    top_p: float = 0.9
    reward_texts: int = 4  #: texts the LLM writes per candidate; the reward is the best one's max activation
    reward_min_words: int = 15
    reward_max_words: int = 30
    reward_temperature: float = 0.8  #: each text is one sampled reply (a small model repeats itself when greedy)

    # -- preference pairs ------------------------------------------------------------------------------------
    min_best_fraction: float = 0.1  #: drop a feature whose best reward is below this fraction of its scale
    min_spread: float = 0.10  #: drop a feature whose (best - worst) / best is at most this
    rejected_gap: float = 0.15  #: the rejected candidate is the best of the lower half whose gap exceeds this

    # -- training --------------------------------------------------------------------------------------------
    batch_size: int = 4
    sft_epochs: float = 2.0
    sft_lr: float = 2e-4
    dpo_rounds: int = 2
    dpo_betas: tuple[float, ...] = (0.1, 0.15)  #: beta of each round (the last one repeats for more rounds)
    dpo_epochs: float = 2.0
    dpo_lr: float = 5e-5
    max_steps: int = -1  #: caps every training stage (-1: run the epochs)
    eval_steps: int = 4  #: steps between held-out preference-accuracy checks (the best checkpoint is kept)
    device: str = "cpu"

    # -- evaluation ------------------------------------------------------------------------------------------
    eval_gen_texts: int = 5  #: GEN texts per explanation
    eval_input_texts: int = 3  #: input-metric positives (and negatives) per explanation
    eval_threshold: str = "sage"  #: GEN threshold: 'sage' or 'saeexplainer'
    eval_teacher: bool = True  #: also score the teacher (the one-shot baseline) on the test features
    extra: dict[str, Any] = field(default_factory=dict)  #: free-form notes stored with the run

    def __post_init__(self) -> None:
        if self.input_style not in INPUT_STYLES:
            raise ValueError(f"input_style must be one of {INPUT_STYLES}, got {self.input_style!r}")
        for name in ("n_train", "n_val", "n_test", "candidates", "reward_texts", "dpo_rounds", "top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.candidates < 2:
            raise ValueError(f"a preference pair needs at least 2 candidates per feature, got {self.candidates}")
        if not 0 < self.top_p <= 1 or self.temperature <= 0:
            raise ValueError("sampling needs temperature > 0 and 0 < top_p <= 1")
        if not 1 <= self.reward_min_words <= self.reward_max_words:
            raise ValueError("reward word bounds must satisfy 1 <= reward_min_words <= reward_max_words")
        if not self.dpo_betas:
            raise ValueError("dpo_betas needs at least one value")
        self.lora_targets = tuple(self.lora_targets)
        self.dpo_betas = tuple(float(b) for b in self.dpo_betas)

    def beta(self, round_: int) -> float:
        """DPO beta of round ``round_`` (1-based); rounds past the list reuse its last value."""
        return self.dpo_betas[min(round_, len(self.dpo_betas)) - 1]

    @property
    def stages(self) -> list[str]:
        """The explainer stages of this run, in order: base, sft, dpo1, dpo2 ..."""
        return [BASE, SFT, *(dpo_stage(r) for r in range(1, self.dpo_rounds + 1))]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lora_targets"] = list(self.lora_targets)
        data["dpo_betas"] = list(self.dpo_betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExplainerTrainingConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config fields: {unknown}")
        return cls(**data)

    @classmethod
    def tiny(cls, **overrides: Any) -> ExplainerTrainingConfig:
        """A run of a few minutes for tests and CI: the same stages with tiny budgets."""
        values: dict[str, Any] = dict(
            contexts=256,
            held_out_contexts=128,
            n_train=8,
            n_val=2,
            n_test=2,
            top_k=3,
            norm_contexts=4,
            lora_r=4,
            lora_alpha=8,
            max_new_tokens=24,
            candidates=2,
            reward_texts=2,
            reward_min_words=8,
            reward_max_words=16,
            min_best_fraction=0.05,
            batch_size=2,
            sft_epochs=1.0,
            dpo_rounds=1,
            dpo_epochs=1.0,
            max_steps=2,
            eval_steps=2,
            eval_gen_texts=2,
            eval_input_texts=1,
            eval_teacher=False,
        )
        values.update(overrides)
        return cls(**values)


__all__ = ["INPUT_STYLES", "ExplainerTrainingConfig", "InputStyle", "dpo_stage"]
