"""An index knows what it was mined from and refuses another target; SAE folders are told apart by their files."""

from __future__ import annotations

import json
import shutil
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from sage_nb.data.contexts import corpus_contexts
from sage_nb.data.corpus import corpus_from
from sage_nb.data.identity import target_identity
from sage_nb.data.index import FeatureIndex, IndexMismatch, index_path, mine
from sage_nb.targets.planted import PlantedTarget, load_planted_target
from sage_nb.targets.saes import SAESource

TEXTS = ["On Monday we met at 10, and on Friday at 3.", "def f(x):\n    return x  # done\n"]


@pytest.fixture(scope="module")
def planted():
    return load_planted_target()


@pytest.fixture(scope="module")
def contexts(planted):
    return corpus_contexts(
        corpus_from(TEXTS, name="identity-test"), planted.tokenizer, context_tokens=16, use_cache=False
    )


@pytest.fixture(scope="module")
def index(planted, contexts):
    return mine(planted, contexts, top_k=3, samples=2, progress=False, corpus_name="identity-test")


def test_an_index_records_what_it_was_mined_from(planted, index, contexts):
    assert index.target == target_identity(planted)
    assert index.meta["corpus"] == "identity-test" and index.meta["sae"] == "planted-v1"
    assert index.identity() == {"corpus": "identity-test", "contexts_digest": index.meta["contexts_digest"],
                                "top_k": 3, "samples": 2}  # fmt: skip


def test_feature_data_refuses_an_index_of_another_target(planted, index):
    other = PlantedTarget(planted.tokenizer, planted.features[:4], model_name=planted.model_name)
    with pytest.raises(IndexMismatch, match=r"this index was mined from SAE 'planted-v1' .* but the target is"):
        index.feature_data(other, 0)
    assert index.feature_data(planted, 0).index == 0


def test_the_identity_survives_saving(planted, index, tmp_path):
    loaded = FeatureIndex.load(index.save(tmp_path / "index.pt"))
    assert loaded.target == index.target and loaded.identity() == index.identity()


def test_an_index_saved_before_identities_is_checked_on_its_labels(planted, index, tmp_path):
    old = FeatureIndex.load(index.save(tmp_path / "index.pt"))
    old.meta = {"sae": "planted-v1", "model": planted.model_name, "hook": "planted"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert old.feature_data(planted, 1).index == 1
    assert any("before indexes recorded" in str(w.message) for w in caught)
    old.meta["sae"] = "another-sae"
    with pytest.raises(IndexMismatch, match="mined with sae 'another-sae'"):
        old.feature_data(planted, 1)


def test_numpy_integers_are_feature_indices(planted, index):
    assert index.feature_data(planted, np.int64(2)).index == 2
    with pytest.raises(IndexError, match="Unknown feature"):
        index.feature_data(planted, True)


def test_the_cache_path_depends_on_the_whole_identity(planted, contexts):
    other = PlantedTarget(planted.tokenizer, planted.features[:4], model_name=planted.model_name)
    assert index_path(planted, "c", contexts) != index_path(other, "c", contexts)
    assert index_path(planted, "c", contexts) == index_path(planted, "c", contexts)


def _sae_folder(path, weights: bytes):
    path.mkdir(parents=True)
    (path / "cfg.json").write_text(json.dumps({"d_sae": 8}))
    (path / "sae_weights.safetensors").write_bytes(weights)
    return path


def _fake_target(path):
    return SimpleNamespace(model_name="m", hook=SimpleNamespace(name="blocks.1.hook_resid_post"), d_sae=8,
                           sae_source=SAESource(path.name, path=path))  # fmt: skip


def test_sae_folders_are_told_apart_by_their_files(tmp_path):
    first = _sae_folder(tmp_path / "a" / "sae", b"\x01" * 5000)
    copy = tmp_path / "b" / "renamed"
    shutil.copytree(first, copy)
    retrained = _sae_folder(tmp_path / "c" / "sae", b"\x02" * 5000)
    one, same, other = (target_identity(_fake_target(p)) for p in (first, copy, retrained))
    assert one.same_as(same) and one.sae != same.sae  # a copy elsewhere is the same SAE
    assert not one.same_as(other) and one.sae == other.sae  # same folder name, other weights
    assert "at " + str(first.resolve()) in one.describe()
