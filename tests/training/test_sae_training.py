import json

import pytest
import torch
from sae_lens import SAE

from sage_nb.cli import main
from sage_nb.targets.saes import sae_hook


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_sae")
    assert main(["train-sae", "--tiny", "--out", str(out)]) == 0
    return out


def test_tiny_training_writes_a_saelens_directory(tiny_run):
    sae = SAE.load_from_disk(str(tiny_run))
    assert sae.cfg.d_in == 576 and sae.cfg.d_sae == 256
    assert sae_hook(sae).name == "blocks.8.hook_resid_post"
    assert sae.cfg.metadata.model_name == "smollm2-135m-instruct"
    assert sae.W_dec.dtype == torch.float16 or sae.W_dec.dtype == torch.float32


def test_tiny_training_reports_measured_quality(tiny_run):
    report = json.loads((tiny_run / "training_report.json").read_text())
    for key in ("explained_variance", "l0", "dead_fraction", "ce_clean", "ce_spliced", "loss_recovered"):
        assert key in report
    assert report["l0"] == pytest.approx(16, abs=0.5)  # TopK k=16
    assert report["ce_spliced"] >= report["ce_clean"] - 0.05
    assert 0 <= report["dead_fraction"] <= 1
