import pytest

from sage_nb.targets.hooks import LAYOUTS, HookPoint, UnknownHookError, block, layout_of


@pytest.mark.parametrize("site", ["resid_pre", "resid_post", "mlp_out", "attn_out"])
def test_parse_round_trips_every_site(site):
    hook = HookPoint.parse(f"blocks.7.hook_{site}")
    assert hook == HookPoint(7, site)
    assert hook.name == f"blocks.7.hook_{site}"


@pytest.mark.parametrize("bad", ["blocks.7.hook_resid_mid", "model.layers.3", "blocks.x.hook_resid_post", ""])
def test_parse_rejects_unknown_hook_names(bad):
    with pytest.raises(UnknownHookError, match="Unsupported hook name"):
        HookPoint.parse(bad)


def test_layout_registry_knows_the_supported_families():
    for family in ("llama", "gemma2", "gemma3_text", "qwen2", "mistral", "gpt2"):
        assert family in LAYOUTS


def test_unknown_model_family_is_a_clear_error():
    class Cfg:
        model_type = "mamba"

    class M:
        config = Cfg()

    with pytest.raises(UnknownHookError, match="mamba"):
        layout_of(M())


def test_layer_out_of_range_names_the_valid_range(target):
    with pytest.raises(UnknownHookError, match="0..29"):
        block(target.model, target.layout, 30)
