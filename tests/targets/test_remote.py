"""``load_target(..., remote=True)``: every nnsight trace goes out with ``remote=True``; the NDIF key stays secret.

No NDIF server is reachable here, so the tests turn nnsight's ``remote=True`` into ``remote="local"``, nnsight's own
dry run of the remote path: the trace is serialised exactly as for NDIF, deserialised with local modules hidden (as on
a server without sage_nb) and run on this machine. The numbers must then equal a local target's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nnsight
import pytest
import torch
from tiny_models import save_tiny_model, save_tiny_sae

from sage_nb.agent import explain
from sage_nb.data.contexts import corpus_contexts
from sage_nb.data.corpus import corpus_from
from sage_nb.data.index import mine
from sage_nb.targets import load_target
from sage_nb.targets.remote import NDIF_KEY_ENV, NDIFKeyMissing, load_remote_model

sys.path.insert(0, str(Path(__file__).parents[1] / "agent"))
from scripted import ScriptedLLM, truthful  # noqa: E402

KEY = "ndif-test-key-3f9a1c77e2b54d08"
TEXTS = ["def f(x): return x + 1  # add one", "On Monday we met at 10."]


@pytest.fixture(scope="module")
def sae_dir(tmp_path_factory, target):
    torch.manual_seed(0)
    model_dir = save_tiny_model("llama", target.tokenizer, tmp_path_factory.mktemp("llama"))
    return save_tiny_sae(tmp_path_factory.mktemp("sae") / "sae", "blocks.1.hook_resid_post", model_dir)


@pytest.fixture
def traces(monkeypatch):
    """The ``remote`` argument of every nnsight trace; ``remote=True`` runs as nnsight's local dry run."""
    monkeypatch.setenv(NDIF_KEY_ENV, KEY)
    monkeypatch.setattr(nnsight.CONFIG.API, "APIKEY", None)
    seen = []
    original = nnsight.TransformersModel.trace

    def trace(self, *args, **kwargs):
        seen.append(kwargs.get("remote"))
        if kwargs.get("remote") is True:
            kwargs["remote"] = "local"
        return original(self, *args, **kwargs)

    monkeypatch.setattr(nnsight.TransformersModel, "trace", trace)
    return seen


def test_remote_traces_carry_remote_true_and_measure_what_a_local_target_measures(sae_dir, traces):
    remote = load_target(sae=str(sae_dir), remote=True)
    assert remote.remote and next(remote.model.parameters()).device.type == "meta"  # no weights loaded here
    assert remote.device == torch.device("cpu")
    ids, mask = remote.tokenize(TEXTS)
    measured = remote.encode(ids, mask).acts
    assert traces == [True]
    assert nnsight.CONFIG.API.APIKEY == KEY  # handed to nnsight in memory, from the environment

    local = load_target(sae=str(sae_dir))
    assert torch.allclose(measured, local.encode(ids, mask).acts, atol=1e-5)
    assert measured.abs().sum() > 0
    weights = remote.output_logit_weights(3)
    assert traces == [True, False, True]  # the local target's trace stays local
    assert torch.allclose(weights, local.output_logit_weights(3), atol=1e-4)
    assert remote.top_output_tokens(3, k=5) == local.top_output_tokens(3, k=5)


def test_the_key_never_appears_in_reprs_or_results(sae_dir, traces, tmp_path):
    target = load_target(sae=str(sae_dir), remote=True)
    assert KEY not in repr(target) and "remote=True" in repr(target)
    assert KEY not in repr(vars(target)) and KEY not in repr(vars(target.reader))
    contexts = corpus_contexts(
        corpus_from(TEXTS * 3, name="remote-test"), target.tokenizer, context_tokens=12, use_cache=False
    )
    index = mine(target, contexts, top_k=3, samples=2, progress=False)  # measured through remote traces
    feature = int(index.top_values.max(dim=0).values.argmax())
    state = explain(target, feature, ScriptedLLM(truthful), index=index, output_dir=tmp_path)
    assert state.done and set(traces) == {True}
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and not any(KEY in p.read_text(encoding="utf-8") for p in files)


def test_a_missing_key_is_a_clear_error_before_anything_loads(sae_dir, monkeypatch):
    monkeypatch.delenv(NDIF_KEY_ENV, raising=False)
    with pytest.raises(NDIFKeyMissing, match=NDIF_KEY_ENV):
        load_target(sae=str(sae_dir), remote=True)


def test_remote_is_for_models_ndif_hosts():
    with pytest.raises(ValueError, match="embedded model"):
        load_remote_model("smollm2-135m-instruct")
    with pytest.raises(ValueError, match="remote=True does not apply"):
        load_target(sae="neuronpedia://gemma-2-2b/20-gemmascope-res-16k", remote=True)
