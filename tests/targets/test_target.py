import pytest
import torch
from sae_lens import SAE

from sage_nb.targets.base import MAX_TEXT_TOKENS
from sage_nb.targets.saes import SAESource, parse_sae_spec, sae_hook
from sage_nb.targets.target import Target


def test_activations_equal_sae_encode_of_the_hf_hidden_state(target):
    text = "The weekday after Monday is Tuesday; print(len(items))"
    ids, mask = target.tokenize([text])
    with torch.no_grad():
        hidden = target.model(ids, attention_mask=mask, output_hidden_states=True).hidden_states
        expected = target.sae.encode(hidden[target.layer + 1].float())[0, 1:]
    enc = target.encode(ids, mask)
    assert torch.allclose(enc.acts[0, 1:], expected, atol=1e-4)
    assert (enc.acts[0, 0] == 0).all()  # BOS is masked


def test_activations_leave_out_bos_and_keep_token_alignment(target):
    (row,) = target.activations("def main():\n    return 0", feature=0)
    assert "".join(row.tokens) == "def main():\n    return 0"
    assert len(row.tokens) == len(row.acts)


def test_padding_does_not_change_activations(target):
    feature = 5
    alone = target.activations("x = 1", feature)[0].acts
    batched = target.activations(["x = 1", "a much longer text that forces padding of the first one " * 3], feature)
    assert batched[0].acts == pytest.approx(alone, abs=1e-4)


def test_empty_text_is_a_clear_error(target):
    with pytest.raises(ValueError, match="empty text"):
        target.activations("   ", feature=0)


def test_too_long_text_is_an_error_unless_truncated(target):
    long_text = "word " * (MAX_TEXT_TOKENS + 50)
    with pytest.raises(ValueError, match="truncate=True"):
        target.activations(long_text, feature=0)
    (row,) = target.activations(long_text, feature=0, truncate=True)
    assert len(row.acts) == MAX_TEXT_TOKENS


@pytest.mark.parametrize("bad", [-1, 10**6, "3", 2.0])
def test_unknown_feature_index_names_the_valid_range(target, bad):
    with pytest.raises(IndexError, match=f"0..{target.d_sae - 1}"):
        target.activations("hello", feature=bad)


def test_sae_model_dimension_mismatch_is_a_clear_error(target):
    wrong = SAE.from_dict(
        {
            "architecture": "topk",
            "d_in": 640,
            "d_sae": 32,
            "k": 4,
            "dtype": "float32",
            "device": "cpu",
            "metadata": {"hook_name": "blocks.3.hook_resid_post"},
        }
    )
    with pytest.raises(ValueError, match="dimension mismatch"):
        Target(target.model, target.tokenizer, wrong, model_name="smollm2", sae_source=SAESource("wrong"))


def test_hook_comes_from_sae_metadata(target):
    assert target.hook == sae_hook(target.sae)
    assert target.hook.name == target.sae.cfg.metadata.hook_name


def test_sae_specs_are_parsed():
    src = parse_sae_spec("sae-lens://release=gemma-scope-2b-pt-res-canonical;sae_id=layer_0/width_16k/canonical")
    assert (src.release, src.sae_id) == ("gemma-scope-2b-pt-res-canonical", "layer_0/width_16k/canonical")
    assert parse_sae_spec(("gpt2-small-res-jb", "blocks.8.hook_resid_pre")).release == "gpt2-small-res-jb"
    with pytest.raises(ValueError, match="Malformed"):
        parse_sae_spec("sae-lens://release=only")
    with pytest.raises(FileNotFoundError, match="No SAE found"):
        parse_sae_spec("/no/such/sae/dir")


def test_decoder_direction_promotes_the_tokens_it_reports(target):
    promoted, suppressed = target.top_output_tokens(7, k=5)
    weights = target.output_logit_weights(7)
    assert promoted[0][1] == pytest.approx(float(weights.max()), rel=1e-5)
    assert suppressed[0][1] == pytest.approx(float(weights.min()), rel=1e-5)
    assert [w for _, w in promoted] == sorted((w for _, w in promoted), reverse=True)
