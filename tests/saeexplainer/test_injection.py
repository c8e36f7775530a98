"""Vector-in: the direction is the SAE's unit decode difference, and injecting it changes the explainer's hidden
state at the placeholder token, and only there."""

from __future__ import annotations

import pytest
import torch

from sage_nb.saeexplainer import prompts
from sage_nb.saeexplainer.config import ExplainerTrainingConfig
from sage_nb.saeexplainer.explainer import Explainer, ExplainerInputs, load_explainer_model, placeholder_id
from sage_nb.saeexplainer.injection import VectorInjector, feature_directions, residual_norm

CFG = ExplainerTrainingConfig(input_style="vector", inject_layer=2)


@pytest.fixture(scope="module")
def explainer_model():
    model, tokenizer = load_explainer_model(CFG.explainer_model)
    return model, tokenizer


def explainer_ids(tokenizer, messages) -> list[int]:
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    return list(encoded["input_ids"])


@pytest.fixture(scope="module")
def prompt_ids(explainer_model):
    _, tokenizer = explainer_model
    return torch.tensor([explainer_ids(tokenizer, prompts.vector_messages(CFG.placeholder))])


def test_directions_are_unit_decode_differences_along_the_decoder_rows(target):
    features = [3, 100, 3552]
    directions = feature_directions(target.sae, features)
    assert torch.allclose(directions.norm(dim=-1), torch.ones(3), atol=1e-5)
    rows = target.sae.W_dec[features].float()
    cosine = torch.nn.functional.cosine_similarity(directions, rows, dim=-1)
    assert torch.allclose(cosine, torch.ones(3), atol=1e-5)
    # the shipped SAE rescales by the decoder norm: a raw W_dec row is not unit length
    assert target.sae.cfg.rescale_acts_by_decoder_norm and not torch.allclose(rows.norm(dim=-1), torch.ones(3))


def test_the_placeholder_is_one_token_that_appears_once_in_the_vector_prompt(explainer_model, prompt_ids):
    _, tokenizer = explainer_model
    token = placeholder_id(tokenizer, CFG.placeholder)
    assert int((prompt_ids == token).sum()) == 1
    with pytest.raises(ValueError, match="single token"):
        placeholder_id(tokenizer, "two words")


def block_inputs(model, batch: torch.Tensor) -> list[torch.Tensor]:
    """The hidden state entering each decoder block (what the model really computes with; ``output_hidden_states``
    records a block's output before later forward hooks such as the injector's have changed it)."""
    seen: list[torch.Tensor] = []

    def grab(_module, args, kwargs):
        seen.append((args[0] if args else kwargs["hidden_states"]).detach().clone())

    handles = [layer.register_forward_pre_hook(grab, with_kwargs=True) for layer in model.model.layers]
    try:
        with torch.no_grad():
            model(input_ids=batch)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def test_injection_changes_the_hidden_state_at_the_placeholder_and_only_there(explainer_model, prompt_ids, target):
    model, tokenizer = explainer_model
    token = placeholder_id(tokenizer, CFG.placeholder)
    other = prompt_ids.clone()
    other[other == token] = tokenizer(" x", add_special_tokens=False).input_ids[0]
    batch = torch.cat([prompt_ids, other])  # row 0 holds the placeholder, row 1 does not
    position = int((prompt_ids[0] == token).nonzero())
    vector = feature_directions(target.sae, [3552])[0] * 40.0
    vectors = torch.stack([vector, torch.zeros_like(vector)])
    layer = CFG.inject_layer
    clean = block_inputs(model, batch)
    injector = VectorInjector(model, layer, token)
    try:
        with injector.active(vectors):
            hooked = block_inputs(model, batch)
    finally:
        injector.remove()
    after = block_inputs(model, batch)
    for i in range(layer + 1):  # blocks up to the injection layer read untouched inputs
        assert torch.equal(clean[i], hooked[i])
    out = layer + 1  # the input of block layer + 1 is the output of block `layer`
    assert torch.allclose(hooked[out][0, position], vector, atol=1e-5)
    assert not torch.allclose(clean[out][0, position], vector, atol=1e-2)
    changed = (hooked[out] - clean[out]).abs().amax(dim=-1) > 0
    assert changed[0].nonzero().flatten().tolist() == [position]  # only the placeholder, only in row 0
    assert not bool(changed[1].any())
    for i in range(out, len(clean)):  # later blocks: positions before the placeholder never see it (causal)
        assert torch.equal(clean[i][0, :position], hooked[i][0, :position])
        assert torch.equal(clean[i][1], hooked[i][1])
    assert not torch.allclose(clean[-1][0, position + 1 :], hooked[-1][0, position + 1 :])  # later tokens read it
    assert all(torch.equal(a, b) for a, b in zip(clean, after, strict=True))  # removed hooks leave no trace


def test_a_placeholder_without_vectors_raises(explainer_model, prompt_ids):
    model, tokenizer = explainer_model
    injector = VectorInjector(model, CFG.inject_layer, placeholder_id(tokenizer, CFG.placeholder))
    try:
        with pytest.raises(RuntimeError, match="no feature vectors"), torch.no_grad():
            model(input_ids=prompt_ids)
        with (
            pytest.raises(ValueError, match="one vector per row"),
            torch.no_grad(),
            injector.active(torch.zeros(3, 576)),
        ):
            model(input_ids=prompt_ids)
    finally:
        injector.remove()


def test_the_scale_is_a_typical_residual_norm(explainer_model, small_contexts):
    model, _ = explainer_model
    norm = residual_norm(model, torch.as_tensor(small_contexts[:4]), CFG.inject_layer)
    assert 1.0 < norm < 1000.0
    print(f"median residual norm after block {CFG.inject_layer}: {norm:.2f}")


def test_the_explainer_writes_the_rows_vectors_while_generating(explainer_model, small_index, target):
    model, tokenizer = explainer_model
    inputs = ExplainerInputs.from_config(CFG, sae=target.sae, scale=40.0)
    explainer = Explainer(model, tokenizer, inputs, batch_size=4)
    seen = []
    handle = model.model.layers[CFG.inject_layer].register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    try:
        fds = [small_index.feature_data(target, f) for f in small_index.live_features()[:2]]
        texts = explainer.explain(fds, k=1, max_new_tokens=3, progress=False)
    finally:
        handle.remove()
        explainer.close()
    assert len(texts) == 2 and all(len(t) == 1 for t in texts)
    prefill = seen[0]  # the first forward pass holds the prompts; the placeholder rows carry the vectors
    token = placeholder_id(tokenizer, CFG.placeholder)
    expected = inputs.vectors([fd.index for fd in fds])
    ids = [explainer_ids(tokenizer, inputs.messages(fd)) for fd in fds]
    for row in range(2):
        position = prefill.shape[1] - len(ids[row]) + ids[row].index(token)  # prompts are left-padded
        assert torch.allclose(prefill[row, position], expected[row], atol=1e-4)
