"""Train the SAE that ships with sage_nb, reproducibly, with sae-lens.

Residual activations are read once with nnsight (stopping the forward pass at the hooked layer), held
in memory as fp16, and streamed to sae-lens' ``SAETrainer`` in seeded shuffled epochs. BOS positions are
left out (their residual norm is an outlier). The result is a SAELens directory (``cfg.json`` +
``sae_weights.safetensors``) that ``SAE.load_from_disk`` reads, plus ``training_report.json`` with the
quality figures measured on the held-out split.

Run it with ``sage-nb train-sae`` (see ``--help``); ``SAETrainingConfig.tiny()`` is the CI-sized run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sae_lens import SAE, TopKTrainingSAE
from sae_lens.config import SAETrainerConfig
from sae_lens.training.sae_trainer import SAETrainer
from tqdm.auto import tqdm

from sage_nb.config import CONTEXT_TOKENS, DEFAULT_MODEL
from sage_nb.data.contexts import corpus_contexts
from sage_nb.data.corpus import default_corpus
from sage_nb.targets.hooks import HookPoint, block, layout_of
from sage_nb.targets.models import load_hf_model
from sage_nb.targets.residuals import ResidualReader


@dataclass
class SAETrainingConfig:
    """Everything that decides the trained SAE. Defaults produce the shipped SAE."""

    model: str = DEFAULT_MODEL
    hook_name: str = "blocks.8.hook_resid_post"
    d_sae: int = 4608
    k: int = 48
    train_tokens: int = 2_000_000  # distinct tokens read from the training split
    epochs: float = 2.5  # passes over those tokens
    batch_size: int = 4096
    lr: float = 2e-3
    lr_end_fraction: float = 0.1
    warmup_steps: int = 50
    dead_feature_window: int = 100  # steps without firing before a feature counts as dead (aux loss)
    aux_loss_coefficient: float = 1 / 32
    eval_tokens: int = 120_000  # held-out tokens for explained variance, L0 and dead fraction
    ce_eval_contexts: int = 256  # held-out contexts for the spliced CE loss
    read_batch: int = 32
    context_tokens: int = CONTEXT_TOKENS
    seed: int = 0
    fp16: bool = True
    extra: dict = field(default_factory=dict)

    @classmethod
    def tiny(cls) -> SAETrainingConfig:
        """A run of a few seconds for tests and CI: same code path, tiny budgets."""
        return cls(
            d_sae=256,
            k=16,
            train_tokens=24_000,
            epochs=1.0,
            batch_size=1024,
            warmup_steps=2,
            dead_feature_window=10,
            eval_tokens=8_000,
            ce_eval_contexts=8,
        )


def collect_activations(reader: ResidualReader, contexts: np.ndarray, batch: int, desc: str) -> torch.Tensor:
    """Activations at the reader's hook for every non-BOS position of ``contexts`` (fp16, ``[n, d]``)."""
    chunks = []
    for start in tqdm(range(0, len(contexts), batch), desc=desc, leave=False):
        ids = torch.as_tensor(contexts[start : start + batch], dtype=torch.long)
        acts = reader.read(ids)[:, 1:]  # drop BOS
        chunks.append(acts.reshape(-1, acts.shape[-1]).to("cpu", torch.float16))
    return torch.cat(chunks)


def _robust_scale(acts: torch.Tensor) -> float:
    """Factor that brings the median activation norm to sqrt(d_in).

    A few tokens (about 1% at layer 8 of SmolLM2) carry residual norms many times the rest; a mean-based
    estimate (sae-lens' ``expected_average_only_in``) lets them shrink every ordinary token, and training
    then stalls. The median ignores them; the factor is folded into the weights after training.
    """
    sample = acts[torch.randperm(len(acts), generator=torch.Generator().manual_seed(0))[:100_000]].float()
    return math.sqrt(acts.shape[1]) / float(sample.norm(dim=-1).median())


def _batches(acts: torch.Tensor, batch_size: int, seed: int, scale: float = 1.0) -> Iterator[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(acts), generator=gen)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield acts[order[start : start + batch_size]].float() * scale


@torch.no_grad()
def reconstruction_stats(sae: SAE, acts: torch.Tensor, batch: int = 8192) -> dict[str, float]:
    """Explained variance, mean L0 and the fraction of features that never fire on ``acts``."""
    fired = torch.zeros(sae.cfg.d_sae, dtype=torch.bool)
    sq_err = 0.0
    l0 = 0.0
    mean = acts.float().mean(0)
    total_var = float(((acts.float() - mean) ** 2).sum())
    for start in range(0, len(acts), batch):
        x = acts[start : start + batch].float()
        f = sae.encode(x)
        sq_err += float(((sae.decode(f) - x) ** 2).sum())
        nz = f > 0
        l0 += float(nz.sum())
        fired |= nz.any(0)
    return {
        "explained_variance": 1 - sq_err / total_var,
        "l0": l0 / len(acts),
        "dead_fraction": float((~fired).float().mean()),
    }


@torch.no_grad()
def spliced_ce(model, tokenizer, sae: SAE, hook: HookPoint, contexts: np.ndarray, batch: int = 16) -> dict[str, float]:
    """Next-token CE loss (BOS target excluded) clean, with the SAE reconstruction spliced in at ``hook``
    (BOS position kept clean), and with the site zero-ablated; plus the fraction of loss recovered."""
    import nnsight

    from sage_nb.targets.hooks import read_site, write_site

    lm = nnsight.TransformersModel(model, tokenizer=tokenizer)
    layout = layout_of(model)
    totals = {"clean": 0.0, "spliced": 0.0, "zero": 0.0}
    n = 0
    for start in range(0, len(contexts), batch):
        ids = torch.as_tensor(contexts[start : start + batch], dtype=torch.long)
        mask = torch.ones_like(ids)
        for mode in totals:
            with lm.trace({"input_ids": ids, "attention_mask": mask}):
                if mode != "clean":
                    h = read_site(lm, layout, hook)
                    if mode == "spliced":
                        rec = sae.decode(sae.encode(h[:, 1:].float())).to(h.dtype)
                        new = torch.cat([h[:, :1], rec], dim=1)
                    else:
                        new = torch.cat([h[:, :1], torch.zeros_like(h[:, 1:])], dim=1)
                    write_site(lm, layout, hook, new)
                logits = lm.output.logits.save()
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1), reduction="sum"
            )
            totals[mode] += float(loss)
        n += ids[:, 1:].numel()
    clean, spliced, zero = (totals[mode] / n for mode in ("clean", "spliced", "zero"))
    return {
        "ce_clean": clean,
        "ce_spliced": spliced,
        "ce_zero": zero,
        "ce_increase": spliced - clean,
        "loss_recovered": (zero - spliced) / (zero - clean),
    }


def train_sae(cfg: SAETrainingConfig, out_dir: str | Path) -> dict:
    """Train an SAE as ``cfg`` says, save it in SAELens format under ``out_dir``, return its report."""
    started = time.time()
    torch.manual_seed(cfg.seed)
    out = Path(out_dir)
    model, tok = load_hf_model(cfg.model)
    hook = HookPoint.parse(cfg.hook_name)
    block(model, layout_of(model), hook.layer)
    reader = ResidualReader(model, tok, hook)
    corpus = default_corpus()
    per_ctx = cfg.context_tokens - 1
    train_ctx = corpus_contexts(
        corpus.split(False), tok, cfg.context_tokens, max_contexts=math.ceil(cfg.train_tokens / per_ctx)
    )
    held_ctx = corpus_contexts(
        corpus.split(True), tok, cfg.context_tokens, max_contexts=math.ceil(cfg.eval_tokens / per_ctx)
    )
    train_acts = collect_activations(reader, train_ctx, cfg.read_batch, "reading training activations")
    held_acts = collect_activations(reader, held_ctx, cfg.read_batch, "reading held-out activations")
    read_seconds = time.time() - started

    d_in = train_acts.shape[1]
    scale = _robust_scale(train_acts)
    sae_cfg = {
        "architecture": "topk",
        "d_in": d_in,
        "d_sae": cfg.d_sae,
        "k": cfg.k,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",  # we scale robustly ourselves (see _robust_scale)
        "aux_loss_coefficient": cfg.aux_loss_coefficient,
        "rescale_acts_by_decoder_norm": True,
        "metadata": {
            "model_name": cfg.model,
            "hook_name": cfg.hook_name,
            "context_size": cfg.context_tokens,
            "prepend_bos": True,
            "dataset_path": corpus.name,
            "sae_lens_training_version": None,
        },
    }
    sae = TopKTrainingSAE.from_dict(sae_cfg)
    total = int(len(train_acts) * cfg.epochs) // cfg.batch_size * cfg.batch_size
    trainer_cfg = SAETrainerConfig(
        total_training_samples=total,
        train_batch_size_samples=cfg.batch_size,
        lr=cfg.lr,
        lr_end=cfg.lr * cfg.lr_end_fraction,
        lr_scheduler_name="cosineannealing",
        lr_warm_up_steps=cfg.warmup_steps,
        dead_feature_window=cfg.dead_feature_window,
        feature_sampling_window=max(cfg.dead_feature_window, 100),
        device="cpu",
    )
    batches = _batches(train_acts, cfg.batch_size, cfg.seed, scale)
    trainer = SAETrainer(cfg=trainer_cfg, sae=sae, data_provider=batches)
    trained = trainer.fit()
    trained.fold_activation_norm_scaling_factor(scale)
    train_seconds = time.time() - started - read_seconds

    out.mkdir(parents=True, exist_ok=True)
    inference = trained.to_inference_sae() if hasattr(trained, "to_inference_sae") else trained
    if cfg.fp16:
        inference = inference.to(dtype=torch.float16)
        inference.cfg.dtype = "float16"
    inference.save_model(str(out))
    loaded = SAE.load_from_disk(str(out), device="cpu", dtype="float32")
    report = {
        "config": asdict(cfg),
        "train_tokens_read": len(train_acts),
        "training_samples": total,
        "held_out_tokens": len(held_acts),
        **reconstruction_stats(loaded, held_acts),
        **spliced_ce(model, tok, loaded, hook, held_ctx[: cfg.ce_eval_contexts]),
        "input_scale": scale,
        "read_seconds": round(read_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "torch": torch.__version__,
    }
    (out / "training_report.json").write_text(json.dumps(report, indent=2))
    return report
