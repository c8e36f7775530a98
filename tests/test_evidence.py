"""Evidence from hand-built records shaped like real ones (SmolLM2 token strings: leading spaces as ' ')."""

from __future__ import annotations

import json

import pytest

from sage_nb.core.text import show_token, visible
from sage_nb.data.records import Exemplar, FeatureData, TokenActivations
from sage_nb.evidence import (
    HIGH_FRACTION,
    LOW_FRACTION,
    NOTABLE_SHAPE,
    Evidence,
    TestEvidence,
    at_line_start,
    at_sentence_start,
    in_all_caps_word,
    span_length,
    token_classes,
    word_position,
)


def ex(ctx: int, tokens: list[str], acts: list[float]) -> Exemplar:
    """An exemplar window with its peak at the largest activation."""
    assert len(tokens) == len(acts)
    return Exemplar(ctx, tokens, acts, max(range(len(acts)), key=acts.__getitem__))


def feature(index: int, top: list[Exemplar], quantiles=(), promoted=(), suppressed=(), density=0.004) -> FeatureData:
    return FeatureData(
        index=index,
        max_activation=max(e.max_act for e in top),
        density=density,
        hist_edges=[],
        hist_counts=[],
        top=top,
        quantiles=list(quantiles),
        promoted=list(promoted),
        suppressed=list(suppressed),
    )


def name_window(ctx: int, before: str, peak: str, after: str, act: float) -> Exemplar:
    tokens = ["I", " forgot", before, peak, after, " the", " street", "."]
    return ex(ctx, tokens, [0.0, 0.1, 0.3, act, 0.4, 0.0, 0.0, 0.0])


NAME_TOP = [
    *(name_window(i, " the", " name", " of", act) for i, act in enumerate([10.0, 9.0, 8.0, 8.0, 7.0, 6.0])),
    name_window(6, " their", " names", ",", 5.0),
    name_window(7, " their", " names", ",", 5.0),
    name_window(8, " your", " Name", " is", 2.0),
]


@pytest.fixture
def name_feature() -> FeatureData:
    """Peaks on ' name' after ' the': one token, whole word."""
    return feature(
        7,
        NAME_TOP,
        promoted=[(" of", 1.3), (" is", 1.1), (" and", 0.9), (" was", 0.8), (" tag", 0.7), (" badge", 0.6)],
        suppressed=[(" the", -0.9), ('"', -0.8), ("\n", -0.7)],
    )


@pytest.fixture
def digits_feature() -> FeatureData:
    """Fires on every digit of a year (SmolLM2 splits numbers into single digits): a spread span."""
    top = [
        ex(i, [" in", " ", "1", "9", "9", "9", ",", " the"], [0.0, 0.2, a * 0.8, a, a * 0.9, a * 0.7, 0.1, 0.0])
        for i, a in enumerate([6.0, 5.0, 4.0])
    ]
    return feature(3, top)


@pytest.fixture
def string_feature() -> FeatureData:
    """Fires inside Python string literals."""
    top = [
        ex(
            0,
            ["x", " =", ' "', "hello", " world", '")', "\n", "print", "(", "x", ")"],
            [0, 0, 0.5, 3.0, 4.0, 0.4] + [0] * 5,
        ),
        ex(1, ["name", " =", " '", "Bob", " Smith", "'", "\n", "return", " name"], [0, 0, 0.2, 2.0, 3.0, 0.1, 0, 0, 0]),
    ]
    return feature(11, top)


# -- counting -----------------------------------------------------------------------------------------------------
def test_peak_tokens_counts_and_mass_shares(name_feature):
    ev = Evidence.from_feature(name_feature)
    assert ev.n_rows == 9
    assert [(s.token, s.count) for s in ev.peak] == [(" name", 6), (" names", 2), (" Name", 1)]
    # mass: 48 of 60 on ' name', 10 on ' names', 2 on ' Name'
    assert [s.share for s in ev.peak] == pytest.approx([0.8, 10 / 60, 2 / 60])
    assert sum(s.share for s in ev.peak) == pytest.approx(1.0)
    assert ev.peak[0].mean_fraction == pytest.approx(8.0 / 10.0)  # mean peak 8 over the top exemplar's 10
    assert ev.scale == 10.0


def test_context_tokens_before_and_after_the_peak(name_feature):
    ev = Evidence.from_feature(name_feature)
    assert [(s.token, s.count) for s in ev.before] == [(" the", 6), (" their", 2), (" your", 1)]
    assert [(s.token, s.count) for s in ev.after] == [(" of", 6), (",", 2), (" is", 1)]
    assert sum(s.share for s in ev.after) == pytest.approx(1.0)
    assert ev.pairs[0].token == " the⟦ name⟧" and ev.pairs[0].share == pytest.approx(0.8)


def test_quantile_samples_join_without_double_counting(name_feature):
    weak = [name_window(20, " a", " name", " for", 1.0), name_window(21, " the", " word", " for", 1.0)]
    name_feature.quantiles = [("10%–20% of max", weak), ("60%–100% of max", [NAME_TOP[0]])]  # a top one again
    ev = Evidence.from_feature(name_feature)
    assert ev.n_rows == 11
    assert {s.token: s.count for s in ev.peak} == {" name": 7, " names": 2, " Name": 1, " word": 1}
    assert sum(s.share for s in ev.peak) == pytest.approx(1.0)
    label, stats = ev.weakest_band
    assert label == "10%–20% of max" and {s.token for s in stats} == {" name", " word"}
    assert Evidence.from_feature(name_feature, include_quantiles=False).n_rows == 9


# -- token classes ------------------------------------------------------------------------------------------------
def test_classes_of_the_name_feature(name_feature):
    ev = Evidence.from_feature(name_feature)
    assert ev.classes == {"whole word": 9, "capitalised": 1}
    frame = ev.to_frame("classes")
    assert frame.shape == (2, 3) and list(frame.columns) == ["class", "count", "share"]
    assert frame.set_index("class").loc["whole word", "share"] == pytest.approx(1.0)


def test_digit_and_subword_classes(digits_feature):
    ev = Evidence.from_feature(digits_feature)
    assert ev.classes["digit"] == 3 and ev.classes["subword"] == 3  # the peak '9' is glued to the '1' before it
    tokens = [" in", " ", "1", "9", "9", "9", ","]
    assert word_position(tokens, 2) == "word start"  # '1' follows a space token and the next digit continues it
    assert "subword" in token_classes(tokens, 3)
    assert token_classes(["user", ".", "get", "Name", "()"], 3) >= {"subword", "capitalised"}
    assert word_position([" un", "believ", "able"], 0) == "word start"
    assert word_position([" un", "believ", "able"], 2) == "subword"
    assert word_position(["a", ",", " ."], 2) is None


def test_string_literal_feature(string_feature):
    ev = Evidence.from_feature(string_feature)
    assert ev.classes["in string"] == 2 and ev.classes["code"] == 2
    assert ev.peak[0].token == " world"


def test_keyword_comment_and_prose_classes():
    code = ["def", " f", "():", "\n", "   ", " return", " x", "  #", " count", " items", "\n"]
    assert {"keyword", "code", "whole word"} <= token_classes(code, 5)
    assert "in comment" in token_classes(code, 9)
    assert "in comment" not in token_classes(code, 5)
    prose = ["He", " lived", " in", " Paris", " for", " years", "."]
    assert "keyword" not in token_classes(prose, 2) and "code" not in token_classes(prose, 2)  # ' in' is English here
    assert "in string" not in token_classes(["I", " don", "'t", " know", " the", " name"], 5)  # an apostrophe
    assert "in string" in token_classes(["He", " said", ' "', "stop", " now"], 4)
    assert "in string" not in token_classes(["s", " =", ' "', "a", '"', " +", " b"], 6)  # after the closing quote
    assert token_classes(["a", ",", "\n", " ", "!"], 1) == {"punctuation"}
    assert "whitespace" in token_classes(["a", "\n", " "], 2)


# -- distribution -------------------------------------------------------------------------------------------------
def test_one_token_versus_spread_distribution(name_feature, digits_feature):
    one = Evidence.from_feature(name_feature).shape
    assert one.label == "one token" and one.mean_span == 1.0
    assert one.word_start == 1.0 and one.first_token_only == 1.0 and one.line_start == 0.0
    assert one.active_fraction == pytest.approx(1 / 8)
    assert one.density == 0.004

    spread = Evidence.from_feature(digits_feature).shape
    assert spread.label == "spread" and spread.mean_span == 4.0
    assert spread.first_token_only == 0.0 and spread.word_start == 0.0
    assert spread.active_fraction == pytest.approx(4 / 8)


def test_span_and_line_start_helpers():
    assert span_length([0, 1, 5, 3, 0.4, 3], 2) == 2  # 3 >= 2.5 joins, 0.4 breaks the run
    assert span_length([0.0, 0.0], 0) == 0
    assert at_line_start(["x", "\n", "   ", " return"], 3)
    assert not at_line_start(["x", " =", " 1"], 2)
    assert not at_line_start(["x"], 0)  # nothing before it in the window: unknown, not counted


def test_all_caps_words_are_judged_as_whole_words():
    pieces = [" mode", " =", " ZIP", "_STOR", "ED", " if", " small"]
    assert in_all_caps_word(pieces, 4) and in_all_caps_word(pieces, 2)  # 'ED' and 'ZIP' of 'ZIP_STORED'
    assert in_all_caps_word([" use", " HTTP", " here"], 1) and in_all_caps_word(["UTF", "8"], 1)
    assert not in_all_caps_word([" Hello", " world"], 0)  # capitalised, not all caps
    assert not in_all_caps_word([" A", " cat"], 0)  # one capital letter is not enough
    assert not in_all_caps_word([" Open", "AI"], 1)  # 'AI' is a piece of 'OpenAI'
    assert "all caps" in token_classes(pieces, 4) and "all caps" not in token_classes(pieces, 5)


def test_sentence_starts_need_an_end_mark_and_space_before_a_capital():
    assert at_sentence_start(["It", " failed", ".", " The", " end"], 3)
    assert at_sentence_start(["Done", "!", "\n\n", "   ", " Next"], 4)  # line breaks between count as space
    assert at_sentence_start(["<|endoftext|>", "Return", " it"], 1)  # a new document
    assert not at_sentence_start(["os", ".", "Path"], 2)  # an attribute, not a sentence
    assert not at_sentence_start(["It", " failed", ".", " the", " end"], 3)  # lower case
    assert not at_sentence_start(["He", " met", " Anna"], 2)  # capitalised mid-sentence
    assert not at_sentence_start([" The", " end"], 0)  # nothing before it in the window: unknown, not counted
    assert "sentence start" in token_classes(["It", " failed", ".", " The"], 3)


def test_sentence_start_and_all_caps_shares_are_written_only_when_most_peaks_share_them():
    starts = [ex(i, ["It", " ran", ".", " Then", " it", " stopped"], [0, 0, 0, 6, 0, 0]) for i in range(3)]
    middle = [ex(9, ["We", " met", " Then", " left"], [0, 0, 5, 0])]
    mostly = Evidence.from_feature(feature(4, starts + middle))
    assert mostly.shape.sentence_start == pytest.approx(0.75) and 0.75 >= NOTABLE_SHAPE
    assert "sentence start 75%" in mostly.to_text() and "all-caps" not in mostly.to_text()
    assert mostly.to_dict()["shape"]["sentence_start"] == 0.75
    rarely = Evidence.from_feature(feature(5, starts[:1] + middle * 3))
    assert rarely.shape.sentence_start > 0 and "sentence start" not in rarely.to_text()
    caps = Evidence.from_feature(feature(6, [ex(1, [" use", " HTTP", " now"], [0, 7, 0])]))
    assert caps.shape.all_caps == 1.0 and "in an all-caps word 100%" in caps.to_text()
    assert "all caps" not in caps.classes  # a refinement of 'capitalised', kept in the shape


# -- test texts ---------------------------------------------------------------------------------------------------
def test_expected_high_text_that_stayed_low_is_flagged(name_feature):
    rows = [
        TokenActivations(
            "What is the name of it", ["What", " is", " the", " name", " of", " it"], [0, 0, 0.2, 8, 0.3, 0]
        ),
        TokenActivations("I like names", ["I", " like", " names"], [0.0, 0.1, 0.4]),
        TokenActivations("The cat sat", ["The", " cat", " sat"], [0.0, 0.0, 0.0]),
        TokenActivations("My name", ["My", " name"], [0.0, 2.0]),
        TokenActivations("The name", ["The", " name"], [0.0, 5.0]),
    ]
    ev = Evidence.from_feature(name_feature).add_tests(rows, ["high", "high", "low", "high", "low"])
    verdicts = [(t.level, t.verdict) for t in ev.tests]
    assert verdicts == [("high", "ok"), ("low", "miss"), ("low", "ok"), ("medium", "partial"), ("high", "miss")]
    first = ev.tests[0]
    assert (first.peak_token, first.before, first.after) == (" name", " the", " of")
    assert first.fraction == pytest.approx(0.8) and first.snippet == "…␣is␣the⟦␣name⟧␣of␣it"
    assert ev.tests[1].peak_token == " names" and ev.tests[1].fraction == pytest.approx(0.04)
    assert ev.tests[2].peak_token is None
    text = ev.to_text()
    assert "T2 miss: expected high, got low (4% of top)" in text
    assert "2/5 as expected" in text


def test_test_levels_are_relative_to_the_feature_scale():
    row = TokenActivations("x", ["x"], [2.0])
    assert TestEvidence.from_row(row, scale=4.0, expectation="high").verdict == "ok"  # half of this feature's top
    assert TestEvidence.from_row(row, scale=100.0, expectation="high").verdict == "miss"  # 2% of this one's
    assert LOW_FRACTION < HIGH_FRACTION
    assert TestEvidence.from_row(row, scale=4.0, expectation=True).expectation == "high"
    assert TestEvidence.from_row(row, scale=4.0, expectation=None).verdict is None
    with pytest.raises(ValueError, match="Unknown expectation"):
        TestEvidence.from_row(row, scale=4.0, expectation="loud")


def test_a_feature_without_contexts_still_renders():
    dead = FeatureData(index=1, max_activation=0.0, density=0.0, hist_edges=[], hist_counts=[], top=[])
    ev = Evidence.from_feature(dead).add_tests([TokenActivations("a b", ["a", " b"], [0.0, 0.5])], ["low"])
    assert ev.n_rows == 0 and ev.peak == [] and ev.scale == 0.0
    assert ev.tests[0].level == "high" and ev.tests[0].verdict == "miss"  # without a scale, firing at all is high
    text = ev.to_text()
    assert "no activating contexts" in text and "T1 miss" in text
    assert json.loads(json.dumps(ev.to_dict()))["n_rows"] == 0


def test_add_tests_checks_lengths(name_feature):
    with pytest.raises(ValueError, match="expectations"):
        Evidence.from_feature(name_feature).add_tests([TokenActivations("x", ["x"], [1.0])], ["high", "low"])


# -- renderings ---------------------------------------------------------------------------------------------------
def test_to_text_is_short_fair_and_json_safe(name_feature, string_feature):
    name_feature.top = NAME_TOP + [name_window(9, " the", " name", " of", 1.5)]  # 10 exemplars
    text = Evidence.from_feature(name_feature).to_text()
    assert len(text) < 1200
    assert "'␣name' 80%" in text.splitlines()[1]
    assert '"' not in text and "\\" not in text
    assert text == Evidence.from_feature(name_feature).to_text()  # deterministic
    code_text = Evidence.from_feature(string_feature).to_text()
    assert '"' not in code_text and "in string 100%" in code_text


def test_to_text_respects_max_lines(name_feature):
    rows = [TokenActivations(f"t{i}", [f"t{i}"], [0.0]) for i in range(8)]
    ev = Evidence.from_feature(name_feature).add_tests(rows, ["high"] * 8)
    lines = ev.to_text(max_lines=6).splitlines()
    assert len(lines) == 6 and lines[-1].startswith("...")


def test_visible_token_rendering():
    assert visible(" name") == "␣name" and visible("\n\n") == "↵↵" and visible("\t") == "⇥"
    assert show_token(' "') == "'␣＂'" and show_token("\\n") == "'⧵n'" and visible("") == "∅"
    assert show_token(" " + "x" * 40) == "'␣" + "x" * 14 + "…'"


def test_to_frame_and_to_dict(name_feature):
    ev = Evidence.from_feature(name_feature).add_tests([TokenActivations("a name", ["a", " name"], [0.0, 9.0])])
    peak = ev.to_frame()
    assert peak.shape == (3, 5) and list(peak.columns) == ["token", "shown", "count", "share", "mean_fraction"]
    assert peak["shown"].tolist() == ["␣name", "␣names", "␣Name"]
    assert ev.to_frame("after").shape == (3, 5)
    assert ev.to_frame("tests").shape[0] == 1
    with pytest.raises(ValueError, match="Unknown view"):
        ev.to_frame("nope")
    data = json.loads(json.dumps(ev.to_dict()))
    assert data["peak"][0] == [" name", 6, 0.8]
    assert data["shape"]["label"] == "one token" and data["tests"][0]["level"] == "high"
    assert data["promoted"][0] == [" of", 1.3]
