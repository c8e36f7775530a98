"""The SAE that ships in the package: loadable by sae-lens, and as good as its report says."""

import json

import pytest
import torch
from sae_lens import SAE

from sage_nb.config import DEFAULT_SAE
from sage_nb.targets.saes import ASSETS, shipped_saes
from sage_nb.training.sae_training import collect_activations, reconstruction_stats

SHIPPED = ASSETS / DEFAULT_SAE


def test_shipped_sae_is_in_saelens_format():
    assert DEFAULT_SAE in shipped_saes()
    sae = SAE.load_from_disk(str(SHIPPED))
    assert sae.cfg.metadata.hook_name == "blocks.8.hook_resid_post"
    assert (SHIPPED / "sae_weights.safetensors").stat().st_size < 15_000_000


def test_shipped_report_meets_the_quality_bar():
    report = json.loads((SHIPPED / "training_report.json").read_text())
    assert report["explained_variance"] >= 0.90
    assert report["dead_fraction"] <= 0.05
    assert report["loss_recovered"] >= 0.99


def test_explained_variance_reproduces_on_held_out_text(target):
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import default_corpus

    report = json.loads((SHIPPED / "training_report.json").read_text())
    ctx = corpus_contexts(default_corpus().split(held_out=True), target.tokenizer, max_contexts=40)
    acts = collect_activations(target.reader, ctx, 20, "held-out")
    stats = reconstruction_stats(target.sae, acts)
    assert stats["explained_variance"] == pytest.approx(report["explained_variance"], abs=0.05)
    assert stats["l0"] == pytest.approx(report["l0"], rel=0.1)
    assert not torch.isnan(target.sae.W_dec).any()


def test_splicing_the_sae_in_keeps_over_99_percent_of_the_loss(target):
    """Checked with a plain PyTorch hook (independent of the nnsight path used for training's report)."""
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import default_corpus

    ctx = corpus_contexts(default_corpus().split(held_out=True), target.tokenizer, max_contexts=16)
    ids = torch.as_tensor(ctx, dtype=torch.long)
    mode = {"replace": None}

    def hook(module, args, output):
        if mode["replace"] is None:
            return None
        rest = output[:, 1:]
        new = target.sae.decode(target.sae.encode(rest.float())) if mode["replace"] == "sae" else torch.zeros_like(rest)
        return torch.cat([output[:, :1], new.to(output.dtype)], dim=1)

    handle = target.model.model.layers[target.layer].register_forward_hook(hook)
    losses = {}
    try:
        for replace in (None, "sae", "zero"):
            mode["replace"] = replace
            with torch.no_grad():
                logits = target.model(ids).logits[:, :-1]
            losses[replace] = float(
                torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
            )
    finally:
        handle.remove()
    recovered = (losses["zero"] - losses["sae"]) / (losses["zero"] - losses[None])
    assert recovered >= 0.99
