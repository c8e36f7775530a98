import numpy as np

from sage_nb.data.contexts import bos_id, corpus_contexts
from sage_nb.data.corpus import corpus_from


def test_contexts_start_with_bos_and_have_fixed_length(target, small_contexts):
    assert small_contexts.shape == (48, 128)
    assert (small_contexts[:, 0] == bos_id(target.tokenizer)).all()


def test_contexts_are_cached_and_reloaded_identically(target, tmp_path, monkeypatch):
    monkeypatch.setenv("SAGE_NB_CACHE", str(tmp_path))
    corpus = corpus_from(["alpha beta gamma delta " * 200], name="greek")
    first = corpus_contexts(corpus, target.tokenizer, context_tokens=32)
    assert list(tmp_path.glob("contexts/greek-*.npy"))
    np.testing.assert_array_equal(first, corpus_contexts(corpus, target.tokenizer, context_tokens=32))
    assert len(corpus_contexts(corpus, target.tokenizer, context_tokens=32, max_contexts=3)) == 3
