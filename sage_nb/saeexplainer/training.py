"""Warm-up SFT and DPO rounds of the explainer's LoRA adapter with ``trl``.

Both trainers get conversational datasets built from the explainer's own prompts (:class:`ExplainerInputs`), so
training and generation see identical inputs. Vector-in rows carry their feature number; a collator turns it into
the vector written at the placeholder (``inject`` in the batch) and the trainers pass it to a
:class:`~sage_nb.saeexplainer.injection.VectorInjector` around every forward pass, the DPO reference pass included
(gradient checkpointing is off: a recomputed block would run without the vectors).

A DPO round starts from the previous stage's adapter; trl keeps a frozen copy of it as the reference. With held-out
(val) pairs the round evaluates every ``eval_steps`` steps and keeps the checkpoint with the best held-out
preference accuracy (``eval_rewards/accuracies``; the earliest on ties).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sage_nb.data.records import FeatureData
from sage_nb.saeexplainer.config import ADAPTER_DIR, HISTORY_FILE, ExplainerTrainingConfig
from sage_nb.saeexplainer.explainer import (
    ExplainerInputs,
    checkpointing_rename_silenced,
    load_explainer_model,
    placeholder_id,
)
from sage_nb.saeexplainer.injection import VectorInjector
from sage_nb.saeexplainer.pairs import PairDecision

#: Batch key of the placeholder vectors, and dataset column of the feature they come from.
INJECT_KEY, FEATURE_COLUMN = "inject", "feature"
#: The trl metric that selects DPO checkpoints.
SELECTION_METRIC = "eval_rewards/accuracies"


@dataclass
class TrainingOutcome:
    """What one training stage produced: the adapter folder, the log history and the held-out selection."""

    adapter: str
    steps: int
    history: list[dict[str, Any]]
    examples: int
    eval_examples: int = 0
    selected_step: int | None = None  # the kept checkpoint's step (None: the last step, no held-out pairs)
    heldout_accuracy: float | None = None  # held-out preference accuracy of the kept adapter
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "history"}


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def sft_rows(
    inputs: ExplainerInputs, feature_datas: Mapping[int, FeatureData], targets: Mapping[int, str]
) -> list[dict[str, Any]]:
    """SFT rows (prompt, completion, feature) for every feature with a target explanation."""
    return [
        {"prompt": inputs.messages(feature_datas[f]), "completion": _assistant(text), FEATURE_COLUMN: f}
        for f, text in sorted(targets.items())
    ]


def dpo_rows(
    inputs: ExplainerInputs, feature_datas: Mapping[int, FeatureData], decisions: Sequence[PairDecision]
) -> list[dict[str, Any]]:
    """DPO rows (prompt, chosen, rejected, feature) for the kept pairs of ``decisions``."""
    return [
        {
            "prompt": inputs.messages(feature_datas[d.feature]),
            "chosen": _assistant(d.chosen),
            "rejected": _assistant(d.rejected),
            FEATURE_COLUMN: d.feature,
        }
        for d in decisions
        if d.kept
    ]


class FeatureVectorCollator:
    """Wraps a trl collator: adds the placeholder vectors of the batch's features (``repeat`` x the rows)."""

    def __init__(self, base: Any, vectors: Mapping[int, torch.Tensor], repeat: int) -> None:
        self.base = base
        self.vectors = vectors
        self.repeat = repeat

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        features = [int(ex[FEATURE_COLUMN]) for ex in examples]
        batch = self.base(examples)
        rows = torch.stack([self.vectors[f] for f in features])
        batch[INJECT_KEY] = rows.repeat(self.repeat, 1)  # DPO batches are [chosen rows, rejected rows]
        return batch


def _injecting(trainer_cls: type) -> type:
    """``trainer_cls`` with a ``compute_loss`` that writes the batch's vectors at the placeholder while it runs."""

    class Injecting(trainer_cls):  # type: ignore[misc, valid-type]
        injector: VectorInjector | None = None

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            vectors = inputs.pop(INJECT_KEY, None)
            if self.injector is None:
                if vectors is not None:
                    raise RuntimeError("the batch carries feature vectors but no injector is attached")
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            with self.injector.active(vectors):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    Injecting.__name__ = f"Injecting{trainer_cls.__name__}"
    return Injecting


@contextmanager
def quiet(progress: bool) -> Iterator[None]:
    """While a trainer is built and runs: no warning that gradient checkpointing's argument was renamed (it must stay
    off, see the module docstring, under either name); without ``progress`` also no dataset progress bars."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        with checkpointing_rename_silenced():
            yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _silence_log_printer(trainer: Any, progress: bool) -> None:
    """Without ``progress`` a trainer prints every log line (its stand-in for the bar); they are kept in its state."""
    if not progress:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)


def _common_args(cfg: ExplainerTrainingConfig, out: Path, progress: bool) -> dict[str, Any]:
    return {
        "output_dir": str(out / "checkpoints"),
        "per_device_train_batch_size": cfg.batch_size,
        "per_device_eval_batch_size": cfg.batch_size,
        "max_steps": cfg.max_steps,
        "logging_steps": 1,
        "report_to": "none",
        "use_cpu": cfg.device == "cpu",
        "bf16": False,
        "fp16": False,
        "gradient_checkpointing": False,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "disable_tqdm": not progress,
        "dataloader_num_workers": 0,
        "save_only_model": True,
        "remove_unused_columns": False,
    }


def _vectors(inputs: ExplainerInputs, features: Sequence[int]) -> dict[int, torch.Tensor]:
    features = sorted(set(features))
    return dict(zip(features, inputs.vectors(features), strict=True)) if features else {}


def _attach(trainer: Any, inputs: ExplainerInputs, tokenizer: Any) -> None:
    if inputs.uses_vectors:
        token = placeholder_id(tokenizer, inputs.placeholder)
        trainer.injector = VectorInjector(trainer.model, inputs.inject_layer, token)


def _finish(trainer: Any, out: Path) -> str:
    adapter = out / ADAPTER_DIR
    trainer.model.save_pretrained(str(adapter), selected_adapters=["default"])
    (out / HISTORY_FILE).write_text(json.dumps(trainer.state.log_history, indent=1), encoding="utf-8")
    if trainer.injector is not None:
        trainer.injector.remove()
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return str(adapter)


def train_sft(
    cfg: ExplainerTrainingConfig, inputs: ExplainerInputs, rows: list[dict[str, Any]], out: Path, progress: bool = True
) -> TrainingOutcome:
    """Train a fresh LoRA adapter on ``rows`` (teacher explanations of train features); save it under ``out``."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    if not rows:
        raise ValueError("no SFT examples: the teacher explained none of the train features")
    with quiet(progress):
        model, tokenizer = load_explainer_model(cfg.explainer_model, device=cfg.device)
        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=list(cfg.lora_targets),
            task_type="CAUSAL_LM",
        )
        args = SFTConfig(
            **_common_args(cfg, out, progress),
            num_train_epochs=cfg.sft_epochs,
            learning_rate=cfg.sft_lr,
            save_strategy="no",
            completion_only_loss=True,
            packing=False,
            padding_free=False,
        )
        collator = None
        if inputs.uses_vectors:
            base = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)
            collator = FeatureVectorCollator(base, _vectors(inputs, [r[FEATURE_COLUMN] for r in rows]), repeat=1)
        trainer = _injecting(SFTTrainer)(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=lora,
            data_collator=collator,
        )
        _silence_log_printer(trainer, progress)
        _attach(trainer, inputs, tokenizer)
        trainer.train()
        adapter = _finish(trainer, out)
    return TrainingOutcome(adapter, trainer.state.global_step, trainer.state.log_history, len(rows))


def train_dpo(
    cfg: ExplainerTrainingConfig,
    inputs: ExplainerInputs,
    start_adapter: str | Path,
    rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]],
    beta: float,
    out: Path,
    progress: bool = True,
) -> TrainingOutcome:
    """One DPO round from ``start_adapter`` (also the frozen reference) on ``rows``; held-out ``eval_rows`` pick
    the checkpoint. The kept adapter is saved under ``out``."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    if not rows:
        raise ValueError("no preference pairs to train on: every train feature was dropped (see decisions)")
    with quiet(progress):
        model, tokenizer = load_explainer_model(
            cfg.explainer_model, adapter=start_adapter, device=cfg.device, trainable=True
        )
        select = bool(eval_rows)
        args = DPOConfig(
            **_common_args(cfg, out, progress),
            num_train_epochs=cfg.dpo_epochs,
            learning_rate=cfg.dpo_lr,
            beta=beta,
            eval_strategy="steps" if select else "no",
            eval_steps=cfg.eval_steps,
            save_strategy="steps" if select else "no",
            save_steps=cfg.eval_steps,
            save_total_limit=1,
            load_best_model_at_end=select,
            metric_for_best_model=SELECTION_METRIC if select else None,
            greater_is_better=True,
        )
        collator = None
        if inputs.uses_vectors:
            base = DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id)
            features = [r[FEATURE_COLUMN] for r in [*rows, *eval_rows]]
            collator = FeatureVectorCollator(base, _vectors(inputs, features), repeat=2)
        trainer = _injecting(DPOTrainer)(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(rows),
            eval_dataset=Dataset.from_list(eval_rows) if select else None,
            processing_class=tokenizer,
            data_collator=collator,
        )
        _silence_log_printer(trainer, progress)
        _attach(trainer, inputs, tokenizer)
        trainer.train()
        outcome = TrainingOutcome("", trainer.state.global_step, [], len(rows), len(eval_rows))
        if select:
            best = trainer.state.best_model_checkpoint
            outcome.selected_step = int(best.rsplit("-", 1)[-1]) if best else trainer.state.global_step
            metrics = trainer.evaluate()
            outcome.heldout_accuracy = float(metrics[SELECTION_METRIC])
        else:
            outcome.notes.append("no held-out pairs: the last step's adapter is kept (no selection)")
        outcome.adapter = _finish(trainer, out)
        outcome.history = trainer.state.log_history
    return outcome


__all__ = [
    "FeatureVectorCollator",
    "TrainingOutcome",
    "dpo_rows",
    "sft_rows",
    "train_dpo",
    "train_sft",
]
