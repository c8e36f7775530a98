import pytest

from sage_nb.data.corpus import HELD_OUT_FRACTION, corpus_from, default_corpus


@pytest.fixture(scope="module")
def corpus():
    return default_corpus()


def test_default_corpus_is_deterministic_and_large(corpus):
    again = default_corpus()
    assert [d.doc_id for d in corpus.documents] == [d.doc_id for d in again.documents]
    assert sum(len(d.text) for d in corpus.documents) > 10_000_000  # several million tokens
    assert {d.kind for d in corpus.documents} == {"prose", "code"}


def test_held_out_split_is_disjoint_and_about_the_right_size(corpus):
    train, held = corpus.split(False), corpus.split(True)
    assert len(train) + len(held) == len(corpus)
    assert not {d.doc_id for d in train.documents} & {d.doc_id for d in held.documents}
    assert abs(len(held) / len(corpus) - HELD_OUT_FRACTION) < 0.03


def test_corpus_from_strings_files_folders_and_datasets(tmp_path):
    assert corpus_from(["a b", "c d"]).texts() == ["a b", "c d"]
    f = tmp_path / "one.txt"
    f.write_text("hello there")
    assert corpus_from(f).texts() == ["hello there"]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.txt").write_text("second file")
    assert sorted(corpus_from(tmp_path).texts()) == ["hello there", "second file"]
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": ["x y", "z"]})
    assert corpus_from(ds).texts() == ["x y", "z"]
    with pytest.raises(KeyError, match="column"):
        corpus_from(ds, text_field="body")


def test_empty_or_missing_corpus_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        corpus_from(["", "  "])
    with pytest.raises(FileNotFoundError):
        corpus_from(tmp_path / "missing.txt")


def test_sentences_are_seeded_bounded_and_unique():
    corpus = corpus_from(
        ["First sentence has five words. Tiny. Second one also has five words!\nthird line of plain code here = 1"]
    )
    one = corpus.sentences(10, seed=3)
    assert sorted(one) == sorted(
        ["First sentence has five words.", "Second one also has five words!", "third line of plain code here = 1"]
    )  # "Tiny." is too short
    assert corpus.sentences(2, seed=3) == corpus.sentences(2, seed=3)
    assert len(corpus.sentences(2, seed=3)) == 2
