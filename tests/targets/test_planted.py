"""Planted ground-truth features: each rule fires where it says, through the same interface as a real Target."""

from __future__ import annotations

import keyword
import re

import numpy as np
import pytest
import torch

from sage_nb.data.contexts import corpus_contexts
from sage_nb.data.corpus import default_corpus
from sage_nb.data.index import index_path, mine
from sage_nb.targets.base import EncodedBatch
from sage_nb.targets.planted import PlantedFeature, PlantedTarget, load_planted_target, planted_features


@pytest.fixture(scope="module")
def planted() -> PlantedTarget:
    return load_planted_target()


@pytest.fixture(scope="module")
def planted_contexts(planted) -> np.ndarray:
    return corpus_contexts(default_corpus().split(False), planted.tokenizer, max_contexts=200)


@pytest.fixture(scope="module")
def planted_index(planted, planted_contexts):
    return mine(planted, planted_contexts, progress=False)


def _peak_prefix(row) -> str:
    """The text up to and including the token where the feature peaks."""
    return "".join(row.tokens[: row.argmax + 1])


# name, positive text, what the text up to the peak token ends with, negative text (silent)
CASES = [
    ("weekday", "See you on Monday morning", "Monday", "Monkeys say someday they will mend it"),
    ("month", "She was born in September 1990", "September", "You may march on, if you may"),
    ("digit", "There are 2048 entries", "2048", "There are many entries"),
    ("python_keyword", "def f(x):\n    return x", "def", "the default returned value"),
    ("closing_bracket", "y = f(g(x))", "f(g(x))", "y = f(g(x"),
    ("string_literal", 'name = "Alice Smith"', "Alice Smith", "It's the students' turn, isn't it?"),
    ("comment", "x = 1  # set the counter\ny = 2", "counter", 'url = "page#anchor"'),
    ("sentence_start", "The cat sat. Dogs bark loudly.", "Dogs", "the cat met Alice and Bob in Paris"),
    ("binary_operator", "if a >= b:", ">=", "x = -y; a->b is well-known"),
    ("def_name", "def main():\n    pass", "def main", "the default main loop"),
    ("time_unit", "It lasted three weeks", "weeks", "On Monday she seconded the motion today"),
    ("all_caps", "Set MAX_SIZE to 10", "MAX_SIZE", "Set Max_Size to ten, I think"),
]


def test_planted_features_are_one_consistent_list():
    features = planted_features()
    assert len(features) >= 8
    assert [f.index for f in features] == list(range(len(features)))
    assert len({f.name for f in features}) == len(features)
    assert {name for name, *_ in CASES} == {f.name for f in features}  # every feature is tested below
    assert all(f.description and f.labels and f.keywords for f in features)


@pytest.mark.parametrize(("name", "positive", "peak_ends", "negative"), CASES, ids=[c[0] for c in CASES])
def test_each_feature_fires_on_its_concept_and_is_silent_elsewhere(planted, name, positive, peak_ends, negative):
    feature = planted.feature(name)
    pos, neg = planted.activations([positive, negative], feature.index)
    assert pos.max_act > 0
    assert _peak_prefix(pos).endswith(peak_ends)
    assert all(a >= 0 for a in pos.acts) and pos.max_act <= 10
    assert neg.max_act == 0, list(zip(neg.tokens, neg.acts, strict=True))


@pytest.mark.parametrize(("name", "positive", "peak_ends", "negative"), CASES, ids=[c[0] for c in CASES])
def test_token_level_features_fire_on_their_peak_word_wherever_it_stands(planted, name, positive, peak_ends, negative):
    feature = planted.feature(name)
    (pos,) = planted.activations([positive], feature.index)
    peak = pos.tokens[pos.argmax].strip()
    (moved,) = planted.activations([f"x {peak} y"], feature.index)  # the same word between two plain letters
    assert (moved.max_act > 0) == feature.token_level, list(zip(moved.tokens, moved.acts, strict=True))


def test_activations_are_graded_by_their_stated_rule(planted):
    def peak(name: str, text: str) -> float:
        return planted.measure(text, planted.feature(name).index).max_act

    assert peak("weekday", "on Monday") > peak("weekday", "on monday") > peak("weekday", "on Mon") > 0
    assert peak("digit", "x 7") < peak("digit", "x 77") < peak("digit", "x 7777")
    assert peak("closing_bracket", "(x)") < peak("closing_bracket", "((x))") < peak("closing_bracket", "(((x)))")
    assert peak("time_unit", "a second") < peak("time_unit", "a day") < peak("time_unit", "a year")
    assert peak("binary_operator", "a + b") < peak("binary_operator", "a < b")
    assert peak("python_keyword", "x in y") < peak("python_keyword", "return y")


def test_leading_space_tokens_and_word_pieces(planted):
    tokens = planted.token_strings(planted.tokenizer("on sunday", add_special_tokens=False).input_ids)
    assert len(tokens) == 3, tokens  # " sund" + "ay": the word comes in pieces
    (row,) = planted.activations("on sunday", planted.feature("weekday").index)
    assert row.acts == [0.0, 0.0, 6.0]  # only the piece that completes the word fires
    (row,) = planted.activations("It is Friday", planted.feature("weekday").index)
    assert row.tokens[-1] == " Friday" and row.acts[-1] == 8.0


def test_string_and_comment_state_runs_across_tokens(planted):
    text = 's = \'a # b\'  # it\'s done\n"""doc\nstring""" + 1'
    strings = planted.measure(text, planted.feature("string_literal").index)
    comments = planted.measure(text, planted.feature("comment").index)
    in_string = "".join(t for t, a in zip(strings.tokens, strings.acts, strict=True) if a > 0)
    in_comment = "".join(t for t, a in zip(comments.tokens, comments.acts, strict=True) if a > 0)
    assert "#" in in_string and "done" not in in_string and "doc" in in_string and "string" in in_string
    assert "done" in in_comment and "b" not in in_comment and "doc" not in in_comment


def test_encode_masks_bos_padding_and_matches_activations(planted):
    texts = ["On Monday, x = 1  # note", "def main():\n    return [1, 2]"]
    ids, mask = planted.tokenize(texts)
    enc = planted.encode(ids, mask)
    assert isinstance(enc, EncodedBatch)
    assert enc.acts.shape == (*ids.shape, planted.d_sae) and enc.acts.dtype == torch.float32
    assert not enc.mask[:, 0].any() and (enc.acts[:, 0] == 0).all()
    assert torch.equal(enc.mask[:, 1:], mask[:, 1:].bool())
    assert (enc.acts[~mask.bool()] == 0).all()
    for f in range(planted.d_sae):
        rows = planted.activations(texts, f)
        for i, row in enumerate(rows):
            n = int(mask[i].sum())
            assert enc.acts[i, 1:n, f].tolist() == row.acts
    subset = planted.encode(ids, mask, features=[3, 0]).acts
    assert torch.equal(subset, enc.acts[..., [3, 0]])


def test_special_tokens_split_documents(planted):
    first, second = "x = 'open string", "the end' and Monday"
    sep = planted.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    body = planted.tokenizer(first, add_special_tokens=False).input_ids
    tail = planted.tokenizer(second, add_special_tokens=False).input_ids
    ids = torch.tensor([[planted.tokenizer.bos_token_id, *body, sep, *tail]])
    enc = planted.encode(ids)
    cut = 1 + len(body)
    assert not enc.mask[0, cut] and (enc.acts[0, cut] == 0).all()
    for f in range(planted.d_sae):
        alone = planted.activations(second, f)[0].acts
        assert enc.acts[0, cut + 1 :, f].tolist() == alone  # no string state leaks across the separator


@pytest.mark.parametrize("bad", [-1, len(planted_features()), 10**6, "3", 2.0, True])
def test_unknown_feature_index_names_the_valid_range(planted, bad):
    with pytest.raises(IndexError, match=f"0..{planted.d_sae - 1}"):
        planted.activations("hello", feature=bad)
    with pytest.raises(IndexError, match=f"this SAE has {planted.d_sae} features"):
        planted.check_features(bad)


def test_target_errors_carry_over(planted):
    with pytest.raises(ValueError, match="No feature index"):
        planted.check_features([])
    with pytest.raises(ValueError, match="empty text"):
        planted.activations("   ", feature=0)
    with pytest.raises(IndexError):
        planted.encode(torch.tensor([[1, 2]]), features=[planted.d_sae])
    assert planted.top_output_tokens(0) == ([], [])


def test_load_planted_target_accepts_a_tokenizer(planted):
    again = load_planted_target(planted.tokenizer)
    assert again.model_name == "smollm2-135m-instruct"
    assert again.d_sae == planted.d_sae and again.sae_source.label.startswith("planted")
    with pytest.raises(ValueError, match="index"):
        PlantedTarget(planted.tokenizer, planted_features()[1:])


WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu|thurs?|fri|sat|sun"
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
MONTH_ABBREVIATIONS = "jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
TIME_UNITS = "seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|century|centuries|millennium|millennia"
OPERATORS = {"+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", ">", "<=", ">="}

# peak-token checks written independently of the rules: (text before the peak, peak token) -> bool
PEAK_CHECKS = {
    "weekday": lambda before, tok: re.search(rf"(?i)({WEEKDAYS})s?$", before + tok),
    "month": lambda before, tok: re.search(rf"(?i)({MONTHS}|{MONTH_ABBREVIATIONS})$", before + tok),
    "digit": lambda before, tok: any(c.isdigit() for c in tok),
    "python_keyword": lambda before, tok: tok.strip() in keyword.kwlist,
    "closing_bracket": lambda before, tok: any(c in tok for c in ")]}"),
    "string_literal": lambda before, tok: "'" in before or '"' in before,
    "comment": lambda before, tok: "#" in before.split("\n")[-1],
    "sentence_start": lambda before, tok: re.search(r"(^\s*|[.!?]\s+)[A-Z][A-Za-z]*$", before + tok),
    "binary_operator": lambda before, tok: tok.strip() in OPERATORS,
    "def_name": lambda before, tok: (
        re.search(r"def\s+\w*$", before + tok[: len(tok) - len(tok.lstrip())]) and re.match(r"\s*\w", tok)
    ),
    "time_unit": lambda before, tok: re.search(rf"(?i)({TIME_UNITS})$", before + tok),
    "all_caps": lambda before, tok: tok.strip() and not any(c.islower() for c in tok),
}


def test_mined_top_exemplars_peak_on_the_planted_class(planted, planted_index):
    assert planted_index.meta["sae"] == planted.sae_source.label and planted_index.meta["hook"] == "planted"
    live = {planted.features[f].name for f in planted_index.live_features()}
    expected_live = {"digit", "python_keyword", "closing_bracket", "string_literal", "comment", "sentence_start"}
    assert expected_live | {"binary_operator", "def_name", "all_caps"} <= live
    separator = "<|endoftext|>"
    for f in planted_index.live_features():
        feature = planted.features[f]
        data = planted_index.feature_data(planted, f)
        assert data.promoted == [] and data.suppressed == [] and data.top
        assert 0 < data.max_activation <= 10 and 0 < data.density < 1
        for ex in data.top:
            before = "".join(ex.tokens[: ex.peak]).split(separator)[-1]
            assert PEAK_CHECKS[feature.name](before, ex.tokens[ex.peak]), (feature.name, before[-40:], ex.tokens)


def test_planted_index_has_its_own_cache_key(planted, planted_contexts):
    path = index_path(planted, "stdlib", planted_contexts)
    assert path.suffix == ".pt"
    assert "planted" in planted.sae_source.label


# feature name -> (explanations that name it, explanations that don't)
EXPLANATIONS = {
    "weekday": (["days of the week", "Weekday names", "fires on Monday and Friday"], ["month names", "time units"]),
    "month": (["Month names like January", "names of the months"], ["days of the week", "it may fire on dates"]),
    "digit": (["digits in numbers", "numeric literals"], ["closing brackets", "Python keywords"]),
    "python_keyword": (["Python keywords such as def and return", "reserved words"], ["function names"]),
    "closing_bracket": (["closing parentheses", "right brackets ) and ]"], ["opening brackets", "commas"]),
    "string_literal": (["text inside quotes", "string literal contents"], ["code comments", "Python keywords"]),
    "comment": (["tokens in # comments", "text after the hash sign"], ["string literals", "closing brackets"]),
    "sentence_start": (
        ["Capitalized words at the start of a sentence", "sentence-initial words"],
        ["capitalized words", "proper nouns"],
    ),
    "binary_operator": (["arithmetic operators like + and -", "comparison operators"], ["assignment", "numbers"]),
    "def_name": (["the function name after def", "names of functions being defined"], ["Python keywords"]),
    "time_unit": (["units of time such as hours and days", "durations"], ["days of the week", "month names"]),
    "all_caps": (["ALL-CAPS identifiers", "uppercase constants like MAX_SIZE"], ["capitalized words", "digits"]),
}


@pytest.mark.parametrize("feature", planted_features(), ids=lambda f: f.name)
def test_matches_accepts_right_and_rejects_wrong_explanations(feature: PlantedFeature):
    right, wrong = EXPLANATIONS[feature.name]
    for text in right:
        assert feature.matches(text), text
    for text in wrong:
        assert not feature.matches(text), text


def test_labels_name_only_their_own_feature():
    features = planted_features()
    for feature in features:
        for label in feature.labels:
            assert [f.name for f in features if f.matches(label)] == [feature.name], label
