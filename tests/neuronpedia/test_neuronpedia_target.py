"""NeuronpediaTarget: the interface the agent and the evaluation use, stored exemplars, explanations, specs."""

from __future__ import annotations

import pytest
from fake_neuronpedia import (
    DIGIT,
    DIGIT_SAMPLES,
    DIGIT_TOP,
    MODEL,
    SILENT,
    SOURCE,
    WEEKDAY,
    WEEKDAY_SAMPLES,
    WEEKDAY_TOP,
    tokenize,
)

from sage_nb.data.records import FeatureData, TokenActivations
from sage_nb.targets.neuronpedia import NeuronpediaNotFound, NeuronpediaTarget, parse_neuronpedia_spec
from sage_nb.targets.neuronpedia.target import MAX_TEXT_CHARS, source_layer, source_width


def test_spec_and_source_names():
    assert parse_neuronpedia_spec("neuronpedia://gemma-2-2b/20-gemmascope-res-16k") == (MODEL, SOURCE)
    for bad in ("neuronpedia://gemma-2-2b", "neuronpedia://a/b/c", "sae-lens://x", "neuronpedia:///x"):
        with pytest.raises(ValueError):
            parse_neuronpedia_spec(bad)
    assert source_layer(SOURCE) == 20 and source_layer("res-jb") is None
    assert source_width(SOURCE) == 16384 and source_width("12-gemmascope-res-65k") == 65536
    assert source_width("5-gemmascope-res-1m") == 2**20 and source_width("8-res-jb") is None


def test_facts_match_what_runs_and_results_folders_use(np_target):
    assert np_target.model_name == MODEL and np_target.layer == 20 and np_target.d_sae == 16384
    assert np_target.sae_source.label == np_target.label == f"neuronpedia://{MODEL}/{SOURCE}"
    assert np_target.hook.name == SOURCE
    assert np_target.check_features([WEEKDAY, 16383]) == [WEEKDAY, 16383]
    for bad in (16384, -1, "3", True):
        with pytest.raises(IndexError, match="16384 features"):
            np_target.check_features(bad)


def test_width_comes_from_the_source_config_when_the_name_lacks_it(server, client):
    target = NeuronpediaTarget(MODEL, SOURCE, client=client, d_sae=None)
    target._d_sae = None  # as for a source id without a width
    assert target.check_features(10**9) == [10**9]
    target.record(WEEKDAY)
    assert target.d_sae == 16384  # saelensConfig.d_sae


def test_activations_are_the_servers_per_token_values(server, np_target):
    texts = ["See you on Monday.", "call 555"]
    rows = np_target.activations(texts, WEEKDAY)
    assert all(isinstance(r, TokenActivations) for r in rows)
    assert [r.text for r in rows] == texts and [r.tokens for r in rows] == [tokenize(t) for t in texts]
    assert rows[0].max_act == 8.0 and rows[0].tokens[rows[0].argmax] == " Monday" and rows[1].max_act == 0.0
    assert np_target.measure("Friday!", WEEKDAY).acts == [8.0, 0.0]
    before = len(server.hits)
    assert np_target.activations(texts, WEEKDAY) == rows
    assert len(server.hits) == before


def test_activations_validate_like_the_local_target(server, np_target):
    for bad in ([], [""], ["  "]):
        with pytest.raises(ValueError):
            np_target.activations(bad, WEEKDAY)
    long = "Monday " * (MAX_TEXT_CHARS // 7 + 10)
    with pytest.raises(ValueError, match="truncate=True"):
        np_target.activations(long, WEEKDAY)
    (row,) = np_target.activations(long, WEEKDAY, truncate=True)
    assert row.text == long and len("".join(row.tokens)) <= MAX_TEXT_CHARS
    assert server.requests("POST")[-1].body["customText"] == [long[:MAX_TEXT_CHARS]]
    with pytest.raises(NeuronpediaNotFound, match="index=4242"):
        np_target.activations("Monday", 4242)


def test_feature_data_is_built_from_the_stored_exemplars(np_target):
    fd = np_target.feature_data(WEEKDAY, k=3)
    assert isinstance(fd, FeatureData) and fd.index == WEEKDAY
    assert len(fd.top) == 3 and fd.max_activation == 8.0 and fd.density == pytest.approx(0.0021)
    for ex, context in zip(fd.top, WEEKDAY_TOP, strict=False):  # windows around the peak (8 tokens after it)
        assert context.startswith("".join(ex.tokens)) and len(ex.tokens) == min(len(tokenize(context)), ex.peak + 9)
    assert all(ex.max_act == 8.0 and ex.tokens[ex.peak].strip()[0].isupper() for ex in fd.top)
    assert "<bos>" not in "".join(t for ex in fd.top for t in ex.tokens)
    sampled = sorted("".join(ex.tokens) for _, exs in fd.quantiles for ex in exs)
    assert sampled == sorted(WEEKDAY_SAMPLES)
    maxima = [max(ex.max_act for ex in exs) for _, exs in fd.quantiles]
    assert maxima == sorted(maxima) and fd.quantiles[0][0].endswith("of max")
    assert fd.promoted == [(" Monday", 0.91), (" Friday", 0.88), (" weekend", 0.5)]
    assert fd.suppressed == [(" the", -0.31), (" of", -0.2)]
    assert fd.hist_edges == [1.0, 3.0, 5.0, 7.0] and fd.hist_counts == [40, 12, 5]


def test_the_exemplar_index_holds_features_side_by_side(np_target):
    index = np_target.exemplar_index([WEEKDAY, DIGIT])
    assert index.contexts.shape[0] == 16 and (index.contexts[:, 0] == 0).all()
    top = index.exemplars(DIGIT, np_target.token_strings)
    assert [ex.context_index for ex in top] == [11, 12, 13]  # after the weekday feature's 11 rows
    width = min(len(tokenize(t)) for t in [*WEEKDAY_TOP, *WEEKDAY_SAMPLES, *DIGIT_TOP, *DIGIT_SAMPLES])
    assert index.contexts.shape[1] == 1 + width  # rows cut to the shortest: no padding to measure
    assert all(all(np_target.token_strings(row[1:].tolist())) for row in index.contexts)
    with pytest.raises(IndexError, match="not in this Neuronpedia index"):
        index.exemplars(SILENT, np_target.token_strings)


def test_a_feature_that_never_fired_has_no_exemplars(np_target):
    fd = np_target.feature_data(SILENT)
    assert fd.top == [] and fd.quantiles == [] and fd.max_activation == 0.0


def test_stored_explanations_become_evaluation_candidates(np_target):
    assert [e.description for e in np_target.explanations(WEEKDAY)] == [
        "names of the days of the week", "calendar words",
    ]  # fmt: skip
    candidates = np_target.candidates([WEEKDAY, DIGIT, SILENT])
    assert [(c.feature, c.explainer, c.description) for c in candidates] == [
        (WEEKDAY, "neuronpedia", "names of the days of the week"),
        (DIGIT, "neuronpedia", "digits in numbers"),
    ]
    assert np_target.top_output_tokens(WEEKDAY, k=1) == ([(" Monday", 0.91)], [(" the", -0.31)])


def test_load_target_gives_a_neuronpedia_target_for_its_spec(server, monkeypatch, tmp_path):
    from sage_nb.targets import load_target

    monkeypatch.setenv("NEURONPEDIA_URL", server.url)
    monkeypatch.setenv("SAGE_NB_CACHE", str(tmp_path))
    target = load_target(sae=f"neuronpedia://{MODEL}/{SOURCE}")
    assert isinstance(target, NeuronpediaTarget) and target.client.base_url == server.url
    assert target.measure("on Monday", WEEKDAY).max_act == 8.0
    assert target.client.cache.folder == tmp_path / "neuronpedia" and target.client.cache.files()
    with pytest.raises(ValueError, match="leave model= out"):
        load_target(model="gpt2", sae=f"neuronpedia://{MODEL}/{SOURCE}")
