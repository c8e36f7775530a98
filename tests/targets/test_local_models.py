"""load_target on a local HF model directory and a local SAELens directory (the hub path is the same code).

Tiny models of every supported layout (GPT-2, Llama, Gemma 2, GPT-NeoX) are built locally; for each site the
activations sage_nb measures must equal ``sae.encode`` of the activation captured by a plain PyTorch hook on the HF
module. The SAE's config decides the rest: BOS or not, input normalisation, dtypes.
"""

import pytest
import torch
from sae_lens import SAE
from tiny_models import FAMILIES, captured, save_tiny_model, save_tiny_sae

from sage_nb.targets import load_target
from sage_nb.targets.hooks import UnknownHookError

TEXT = "def f(x): return x + 1  # add one"


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, target):
    torch.manual_seed(0)
    return {f: save_tiny_model(f, target.tokenizer, tmp_path_factory.mktemp(f)) for f in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("site", ["resid_pre", "resid_post", "mlp_out", "attn_out"])
def test_measured_activations_equal_sae_encode_of_the_hooked_module(tmp_path, model_dirs, family, site):
    sae_dir = save_tiny_sae(tmp_path / "sae", f"blocks.1.hook_{site}", model_dirs[family])
    target = load_target(sae=str(sae_dir))  # the model comes from the SAE's metadata
    assert target.hook.name == f"blocks.1.hook_{site}"
    ids, mask = target.tokenize([TEXT])
    expected = target.sae.encode(captured(target.model, family, 1, site, ids).float())[0, 1:]
    measured = target.encode(ids, mask).acts[0, 1:]
    assert torch.allclose(measured, expected, atol=1e-5)
    assert measured.abs().sum() > 0


def test_an_sae_trained_without_bos_is_measured_on_the_text_alone(tmp_path, model_dirs):
    sae_dir = save_tiny_sae(tmp_path / "sae", "blocks.1.hook_resid_post", model_dirs["llama"], {"prepend_bos": False})
    target = load_target(sae=str(sae_dir))
    assert not target.prepend_bos
    ids, mask = target.tokenize([TEXT, "x = 1"])
    enc = target.encode(ids, mask)
    for row in range(2):
        n = int(mask[row].sum())
        text_only = ids[row : row + 1, 1:n]
        expected = target.sae.encode(captured(target.model, "llama", 1, "resid_post", text_only).float())[0]
        assert torch.allclose(enc.acts[row, 1:n], expected, atol=1e-5)
        assert (enc.acts[row, 0] == 0).all() and (enc.acts[row, n:] == 0).all()
    with_bos = target.sae.encode(captured(target.model, "llama", 1, "resid_post", ids[:1]).float())[0, 1:]
    assert not torch.allclose(enc.acts[0, 1:], with_bos, atol=1e-3)  # BOS would have changed what is measured


def _normalised(x: torch.Tensor, kind: str) -> torch.Tensor:
    """sae-lens's input normalisations, written out."""
    if kind == "constant_norm_rescale":
        return x * x.shape[-1] ** 0.5 / x.norm(dim=-1, keepdim=True)
    centred = x - x.mean(dim=-1, keepdim=True)
    return centred / (centred.std(dim=-1, keepdim=True) + 1e-5)


@pytest.mark.parametrize("kind", ["constant_norm_rescale", "layer_norm"])
def test_the_sae_input_normalisation_from_its_config_is_applied(tmp_path, model_dirs, kind):
    sae_dir = save_tiny_sae(
        tmp_path / "sae", "blocks.1.hook_resid_post", model_dirs["llama"], normalize_activations=kind
    )
    target = load_target(sae=str(sae_dir))
    assert target.sae.cfg.normalize_activations == kind
    ids, mask = target.tokenize([TEXT])
    plain = SAE.load_from_disk(str(sae_dir))
    plain.cfg.normalize_activations = "none"
    plain._setup_activation_normalization()
    hooked = captured(target.model, "llama", 1, "resid_post", ids).float()
    expected = plain.encode(_normalised(hooked, kind))[0, 1:]
    measured = target.encode(ids, mask).acts[0, 1:]
    assert torch.allclose(measured, expected, atol=1e-5)
    assert not torch.allclose(measured, plain.encode(hooked)[0, 1:], atol=1e-3)


def test_an_sae_missing_its_norm_factor_is_refused(tmp_path, model_dirs):
    sae_dir = save_tiny_sae(
        tmp_path / "sae",
        "blocks.1.hook_resid_post",
        model_dirs["llama"],
        normalize_activations="expected_average_only_in",
    )
    with pytest.raises(ValueError, match="fold_activation_norm_scaling_factor"):
        load_target(sae=str(sae_dir))


def test_dtypes_a_half_precision_sae_and_a_bf16_model_on_cpu(tmp_path, model_dirs):
    sae_dir = save_tiny_sae(tmp_path / "sae", "blocks.1.hook_resid_post", model_dirs["llama"], dtype="float16")
    target = load_target(sae=str(sae_dir), dtype=torch.bfloat16)
    assert target.sae.W_enc.dtype == torch.float32  # CPU kernels: the SAE runs in float32
    assert next(target.model.parameters()).dtype == torch.bfloat16
    ids, mask = target.tokenize([TEXT])
    hooked = captured(target.model, "llama", 1, "resid_post", ids)
    assert hooked.dtype == torch.bfloat16
    measured = target.encode(ids, mask).acts[0, 1:]
    assert measured.dtype == torch.float32
    assert torch.allclose(measured, target.sae.encode(hooked.float())[0, 1:], atol=1e-5)


def test_layer_beyond_the_model_is_a_clear_error(tmp_path, model_dirs):
    sae_dir = save_tiny_sae(tmp_path / "sae", "blocks.7.hook_resid_post", model_dirs["gpt2"])
    with pytest.raises(UnknownHookError, match="Layer 7 does not exist"):
        load_target(sae=str(sae_dir))


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, model_dirs):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    sae_dir = save_tiny_sae(tmp_path / "sae", "blocks.1.hook_resid_post", model_dirs["gpt2"])
    with pytest.raises(ValueError, match="no CUDA GPU"):
        load_target(sae=str(sae_dir), device="cuda")
