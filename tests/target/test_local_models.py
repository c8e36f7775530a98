"""load_target on a local HF model directory and a local SAELens directory (the hub path is the same code).

Tiny GPT-2 and Llama models are built locally; for each supported site the activations sage_nb measures
must equal ``sae.encode`` of the activation captured by a plain PyTorch hook on the HF module.
"""

import pytest
import torch
from sae_lens import SAE
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from sage_nb.target import load_target
from sage_nb.target.hooks import UnknownHookError


def _tokenizer(target_tokenizer, path):
    target_tokenizer.save_pretrained(path)
    return len(target_tokenizer)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, target):
    torch.manual_seed(0)
    dirs = {}
    for family in ("gpt2", "llama"):
        path = tmp_path_factory.mktemp(family)
        vocab = _tokenizer(target.tokenizer, path)
        if family == "gpt2":
            model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_layer=3, n_embd=64, n_head=4, n_positions=256))
        else:
            model = LlamaForCausalLM(
                LlamaConfig(
                    vocab_size=vocab,
                    num_hidden_layers=3,
                    hidden_size=64,
                    intermediate_size=128,
                    num_attention_heads=4,
                    num_key_value_heads=2,
                    max_position_embeddings=256,
                )
            )
        model.save_pretrained(path)
        dirs[family] = path
    return dirs


def _sae_dir(tmp_path, hook_name, model_dir):
    sae = SAE.from_dict(
        {
            "architecture": "topk",
            "d_in": 64,
            "d_sae": 96,
            "k": 8,
            "dtype": "float32",
            "device": "cpu",
            "metadata": {"hook_name": hook_name, "model_name": str(model_dir)},
        }
    )
    with torch.no_grad():
        for p in sae.parameters():
            p.normal_(0, 0.3)
    sae.save_model(str(tmp_path / "sae"))
    return tmp_path / "sae"


MODULES = {
    "gpt2": {"block": lambda m, L: m.transformer.h[L], "attn": "attn", "mlp": "mlp"},
    "llama": {"block": lambda m, L: m.model.layers[L], "attn": "self_attn", "mlp": "mlp"},
}


def _captured(model, family, layer, site, ids):
    spec = MODULES[family]
    blk = spec["block"](model, layer)
    module = {
        "resid_pre": blk,
        "resid_post": blk,
        "mlp_out": getattr(blk, spec["mlp"]),
        "attn_out": getattr(blk, spec["attn"]),
    }[site]
    seen = {}

    def hook(mod, args, kwargs, output):
        if site == "resid_pre":
            seen["x"] = args[0] if args else kwargs["hidden_states"]
        else:
            seen["x"] = output[0] if isinstance(output, tuple) else output

    handle = module.register_forward_hook(hook, with_kwargs=True)
    with torch.no_grad():
        model(ids)
    handle.remove()
    return seen["x"]


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("site", ["resid_pre", "resid_post", "mlp_out", "attn_out"])
def test_measured_activations_equal_sae_encode_of_the_hooked_module(tmp_path, model_dirs, family, site):
    sae_dir = _sae_dir(tmp_path, f"blocks.1.hook_{site}", model_dirs[family])
    target = load_target(sae=str(sae_dir))  # the model comes from the SAE's metadata
    assert target.hook.name == f"blocks.1.hook_{site}"
    ids, mask = target.tokenize(["def f(x): return x + 1  # add one"])
    expected = target.sae.encode(_captured(target.model, family, 1, site, ids).float())[0, 1:]
    measured = target.encode(ids, mask).acts[0, 1:]
    assert torch.allclose(measured, expected, atol=1e-5)
    assert measured.abs().sum() > 0


def test_layer_beyond_the_model_is_a_clear_error(tmp_path, model_dirs):
    sae_dir = _sae_dir(tmp_path, "blocks.7.hook_resid_post", model_dirs["gpt2"])
    with pytest.raises(UnknownHookError, match="Layer 7 does not exist"):
        load_target(sae=str(sae_dir))


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, model_dirs):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        load_target(sae=str(_sae_dir(tmp_path, "blocks.1.hook_resid_post", model_dirs["gpt2"])), device="cuda")
