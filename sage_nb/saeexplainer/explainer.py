"""The trainable explainer: an instruct LM (optionally with a LoRA adapter) that writes one-sentence explanations.

:class:`ExplainerInputs` turns a feature into the explainer's prompt (and, for vector-in, the vector written at the
placeholder). :class:`Explainer` samples or greedily writes explanations for many features in batches; the same
prompts feed SFT and DPO (:mod:`sage_nb.saeexplainer.training`), so the model is trained on what it is asked.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from sage_nb.data.records import FeatureData
from sage_nb.saeexplainer import prompts
from sage_nb.saeexplainer.config import ExplainerTrainingConfig
from sage_nb.saeexplainer.injection import VectorInjector, feature_directions


@dataclass
class ExplainerInputs:
    """How features become explainer prompts: the input style, and for vector-in the directions and their scale."""

    style: str
    top_k: int
    placeholder: str
    inject_layer: int
    scale: float | None = None  # typical residual norm at inject_layer (vector-in)
    sae: Any = None  # the target's SAE (vector-in)

    @classmethod
    def from_config(cls, cfg: ExplainerTrainingConfig, sae: Any = None, scale: float | None = None) -> ExplainerInputs:
        if cfg.input_style == "vector" and (sae is None or scale is None):
            raise ValueError("vector-in needs the target's SAE and the residual norm at the injection layer")
        return cls(cfg.input_style, cfg.top_k, cfg.placeholder, cfg.inject_layer, scale, sae)

    @property
    def uses_vectors(self) -> bool:
        return self.style == "vector"

    def messages(self, feature_data: FeatureData) -> prompts.Messages:
        """The explainer's prompt for one feature."""
        if self.uses_vectors:
            return prompts.vector_messages(self.placeholder)
        return prompts.exemplars_messages(feature_data, self.top_k)

    def vectors(self, features: Sequence[int]) -> torch.Tensor:
        """The vectors written at the placeholder for ``features``: unit directions times the residual scale."""
        if not self.uses_vectors:
            raise ValueError("exemplars-in prompts carry no vectors")
        assert self.scale is not None
        return feature_directions(self.sae, features) * self.scale


@contextlib.contextmanager
def checkpointing_rename_silenced() -> Iterator[None]:
    """No warning when code reads gradient checkpointing under its pre-transformers-5 name (trl and peft do; this
    package keeps it off, see :mod:`sage_nb.saeexplainer.training`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r".*gradient_checkpointing.* is deprecated", FutureWarning)
        yield


def placeholder_id(tokenizer: Any, placeholder: str) -> int:
    """The token id of ``placeholder``; raises unless it is exactly one token of the explainer's vocabulary."""
    ids = tokenizer(placeholder, add_special_tokens=False).input_ids
    if len(ids) != 1:
        raise ValueError(f"the placeholder {placeholder!r} is {len(ids)} tokens for this tokenizer; use a single token")
    return int(ids[0])


def load_explainer_model(name: str, adapter: str | Path | None = None, device: str = "cpu", trainable: bool = False):
    """The explainer's model and tokenizer: ``name`` (see :func:`~sage_nb.targets.load_hf_model`) plus a saved LoRA
    adapter when given (trainable for the next DPO round when ``trainable``)."""
    from sage_nb.targets.models import load_hf_model

    model, tokenizer = load_hf_model(name, device=device)
    if adapter is not None:
        from peft import PeftModel

        with checkpointing_rename_silenced():
            model = PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def clean_explanation(text: str) -> str:
    """The first line of a reply, whitespace collapsed and wrapping quotes removed."""
    line = next((part for part in text.strip().splitlines() if part.strip()), "")
    return " ".join(line.split()).strip("'\"“”‘’` ")


class Explainer:
    """Writes explanations with ``model`` (a causal LM, possibly a PEFT model) for features, in batches.

    >>> explainer = Explainer(model, tokenizer, inputs)  # doctest: +SKIP
    >>> explainer.explain(feature_datas, k=6, sample=True, temperature=0.9, top_p=0.9, seed=0)  # doctest: +SKIP
    """

    def __init__(self, model: Any, tokenizer: Any, inputs: ExplainerInputs, batch_size: int = 12) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.inputs = inputs
        self.batch_size = batch_size
        self._placeholder = placeholder_id(tokenizer, inputs.placeholder)
        self.injector = VectorInjector(model, inputs.inject_layer, self._placeholder) if inputs.uses_vectors else None

    def close(self) -> None:
        """Remove the injection hooks and free the model."""
        if self.injector is not None:
            self.injector.remove()
        self.model = None
        gc.collect()

    def _prompt_ids(self, feature_data: FeatureData) -> list[int]:
        encoded = self.tokenizer.apply_chat_template(
            self.inputs.messages(feature_data), add_generation_prompt=True, tokenize=True, return_dict=True
        )
        return list(encoded["input_ids"])

    @torch.no_grad()
    def _generate(
        self, rows: list[FeatureData], sample: bool, temperature: float, top_p: float, max_new_tokens: int
    ) -> list[str]:
        prompts_ = [self._prompt_ids(fd) for fd in rows]
        pad = self.tokenizer.pad_token_id
        width = max(map(len, prompts_))
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, p in enumerate(prompts_):
            ids[i, width - len(p) :] = torch.tensor(p)
            mask[i, width - len(p) :] = 1
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "do_sample": sample,
            "pad_token_id": pad,
            "suppress_tokens": [self._placeholder],
        }
        if sample:
            kwargs.update(temperature=temperature, top_p=top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        vectors = self.inputs.vectors([fd.index for fd in rows]) if self.injector is not None else None
        device = next(self.model.parameters()).device
        active = self.injector.active(vectors) if self.injector is not None else contextlib.nullcontext()
        self.model.eval()
        with active, checkpointing_rename_silenced():
            out = self.model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
        replies = self.tokenizer.batch_decode(out[:, width:].cpu(), skip_special_tokens=True)
        return [clean_explanation(r) for r in replies]

    def explain(
        self,
        feature_datas: Sequence[FeatureData],
        *,
        k: int = 1,
        sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int = 0,
        max_new_tokens: int = 40,
        progress: bool = True,
        desc: str = "explaining",
    ) -> list[list[str]]:
        """``k`` explanations per feature (greedy when not ``sample``; seeded), in input order."""
        rows = [fd for fd in feature_datas for _ in range(k)]
        texts: list[str] = []
        bar = tqdm(total=len(rows), desc=desc, unit="expl", disable=not progress)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                texts += self._generate(chunk, sample, temperature, top_p, max_new_tokens)
                bar.update(len(chunk))
        bar.close()
        return [texts[i * k : (i + 1) * k] for i in range(len(feature_datas))]


__all__ = ["Explainer", "ExplainerInputs", "clean_explanation", "load_explainer_model", "placeholder_id"]
