"""The explanation computed from the evidence alone: what it names, how it merges and stops, and its errors."""

from __future__ import annotations

import pytest

from sage_nb.core.text import token_label, token_phrase, whitespace_name
from sage_nb.data.records import Exemplar, FeatureData
from sage_nb.explainers.one_shot import ExplainError
from sage_nb.explainers.top_tokens import EXPLAINER, TopTokensExplainer


def window(ctx: int, tokens: list[str], peak: int, act: float) -> Exemplar:
    acts = [0.0] * len(tokens)
    acts[peak] = act
    return Exemplar(ctx, tokens, acts, peak)


def feature(top: list[Exemplar], index: int = 5) -> FeatureData:
    return FeatureData(
        index=index,
        max_activation=max((e.max_act for e in top), default=0.0),
        density=0.01,
        hist_edges=[],
        hist_counts=[],
        top=top,
        quantiles=[],
    )


def test_the_tokens_carrying_the_peak_mass_are_named_with_their_shares():
    top = [window(i, ["I", " forgot", " the", " name", " of", " it"], 3, 6.0) for i in range(3)]
    top += [window(9, ["See", " you", " on", " Monday", "."], 3, 2.0)]
    candidate = TopTokensExplainer().explain(feature(top))
    assert candidate.explainer == EXPLAINER and candidate.feature == 5
    assert candidate.description.startswith("Fires on 'name' (90% of the peak activation);")
    assert "most often right after 'the'" in candidate.description
    assert "the activation stays on that token" in candidate.description
    assert candidate.labels == ["name"]
    assert (
        TopTokensExplainer(coverage=1.0)
        .explain(feature(top))
        .description.startswith("Fires on 'name' (90% of the peak activation), 'Monday' (10%);")
    )


def test_tokens_that_read_the_same_are_merged_and_coverage_stops_the_list():
    """' mail' and 'mail' are one entry (shares summed); once 60% is covered no further token is named."""
    top = [window(0, ["e", "mail"], 1, 4.0), window(1, ["an", " mail"], 1, 4.0), window(2, ["x", " post"], 1, 2.0)]
    candidate = TopTokensExplainer().explain(feature(top))
    assert candidate.labels == ["mail"]
    assert "'mail' (80% of the peak activation)" in candidate.description and "post" not in candidate.description
    wider = TopTokensExplainer(coverage=1.0).explain(feature(top))
    assert wider.labels == ["mail", "post"]


def test_a_shared_token_class_and_whitespace_are_named():
    digits = [window(i, [" in", " ", "1", "9", "8", str(i)], 5, 3.0 + i) for i in range(4)]
    candidate = TopTokensExplainer().explain(feature(digits))
    assert "the peak token is usually a digit" in candidate.description and "a digit" in candidate.labels
    newlines = [window(i, ["x", " =", " 1", "\n", "y"], 3, 5.0) for i in range(3)]
    assert TopTokensExplainer().explain(feature(newlines)).labels[0] == "a line break"


def test_token_phrases():
    assert token_phrase(" Monday") == "'Monday'" and token_label(" Monday") == "Monday"
    assert whitespace_name("\n\n") == "a blank line" and whitespace_name("\n    ") == "a line break"
    assert whitespace_name("\t") == "a tab" and whitespace_name(" ") == "a space" and whitespace_name("   ") == "spaces"
    assert token_phrase("\n") == "a line break"


def test_a_feature_that_never_fired_is_an_error_not_an_explanation():
    silent = feature([])
    with pytest.raises(ExplainError, match="never fired"):
        TopTokensExplainer().explain(silent)
    fired = feature([window(0, ["a", " b"], 1, 1.0)], index=6)
    out = TopTokensExplainer().explain_many([silent, fired])
    assert isinstance(out[0], ExplainError) and out[1].labels == ["b"]


@pytest.mark.parametrize("kwargs", [{"max_tokens": 0}, {"coverage": 0.0}, {"min_share": 1.0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        TopTokensExplainer(**kwargs)


def test_on_the_planted_digit_feature_it_names_the_concept(planted, digit):
    """Mined on a real tokenizer's windows, the computed explanation names digits (the planted ground truth)."""
    candidate = TopTokensExplainer().explain(digit)
    assert planted.feature("digit").matches(" ".join([candidate.description, *candidate.labels]))
    assert all(label.isdigit() for label in candidate.labels[:-1]) and candidate.labels[-1] == "a digit"


@pytest.mark.parametrize("name", ["all_caps", "sentence_start"])
def test_on_planted_word_shape_features_it_names_the_shape(planted, name):
    """All-caps pieces ('ED' of 'ZIP_STORED') and sentence-initial words are named by their shape, which the
    planted rule is about, rather than as 'a capitalised word'."""
    from scripted import planted_feature_data

    corpus = [
        "mode = ZIP_STORED if small else ZIP_DEFLATED\n",
        "if level == LOGGING_LEVEL:\n    return MAX_SIZE\n",
        "The flag is SEEK_CUR here. Then it moves. After that, READ_ONLY is set.\n",
        "It failed. The parser stopped. Nothing was read. Every line was kept.\n",
        "We met Anna in Paris. She said Rome was warm. Later we left.\n",
    ]
    _, fd = planted_feature_data(planted, name, corpus)
    candidate = TopTokensExplainer().explain(fd)
    assert planted.feature(name).matches(" ".join([candidate.description, *candidate.labels]))
    assert "a capitalised word" not in candidate.labels
