"""A generalizer's class name is checked before its class is tested."""

from __future__ import annotations

import pytest

from sage_nb.agent.class_names import (
    BARE_KIND,
    IDENTIFIER,
    POSITION_CLASSES,
    class_name_problem,
    kind_member,
    names_shape,
    qualified_kind,
)


@pytest.mark.parametrize("name", ["whole word", "Whole words", "word start", "subwords", "tokens"])
def test_a_word_position_names_no_class(name):
    assert "where a token sits" in class_name_problem(name, ["AL", "ED"])


@pytest.mark.parametrize(
    ("name", "seen"),
    [("return class", ["return", "class", "continue"]), ("Return words", ["return"]), ("Mondays", ["Monday"])],
)
def test_the_seen_tokens_strung_together_name_no_class(name, seen):
    assert "repeats the tokens" in class_name_problem(name, seen)


@pytest.mark.parametrize("name", ["keyword", "Keywords", "punctuation", "punctuation marks", "symbols", "operator"])
def test_a_bare_kind_of_token_names_no_class(name):
    """What the 1.5B answered for Python keywords, sentence starts and all-caps pieces ('keyword') and for
    closing brackets ('punctuation'): any language's keyword, any notation's symbol."""
    assert class_name_problem(name, ["return", ")"]) == BARE_KIND
    assert "without saying of which language, topic or use" in BARE_KIND


@pytest.mark.parametrize(
    ("name", "seen"),
    [("Python keywords", ["return", "class"]), ("time words", ["year"]), ("closing brackets", [")"]),
     ("return statements", ["return"]), ("weekday names", ["Monday"]),
     ("comparison operators", ["<"]), ("currency symbols", ["$"])],
)  # fmt: skip
def test_a_kind_of_token_is_a_class(name, seen):
    assert class_name_problem(name, seen) == ""


def test_the_position_classes_are_the_evidence_ones():
    assert POSITION_CLASSES == {"whole word", "word start", "subword"}


@pytest.mark.parametrize("name", ["keyword", "Keywords", "keyword tokens"])
def test_a_bare_keyword_is_qualified_when_every_seen_token_is_a_python_keyword_in_code(name):
    qualified, member = qualified_kind(name, ["return", " class", "continue"], code_share=0.6)
    assert qualified == "Python keywords" and member("while") and not member("function")


@pytest.mark.parametrize("name", ["punctuation", "special characters", "symbols"])
def test_a_bare_kind_of_punctuation_is_qualified_by_the_brackets_every_seen_token_holds(name):
    """closing_bracket in the v8 and v9 runs: the 1.5B named ')', '])', ')),' 'punctuation', then 'special
    characters'. Every one holds a closing bracket (Unicode category Pe), in code or not."""
    qualified, member = qualified_kind(name, [")", " ])", ")),"], code_share=0.0)
    assert qualified == "closing brackets" and member("]") and member("}") and not member("(") and not member(",")
    assert qualified_kind(name, ["(", "[["], code_share=0.0)[0] == "opening brackets"
    assert kind_member("Closing brackets")(")") and not kind_member("closing brackets")("(")


@pytest.mark.parametrize(
    ("name", "seen", "code_share"),
    [("keyword", ["return", "Return"], 0.6), ("keyword", ["return", "class"], 0.2), ("punctuation", [")", "("], 1.0),
     ("punctuation", ["==", "!="], 1.0), ("keyword", [], 1.0), ("control flow keywords", ["return"], 1.0)],
)  # fmt: skip
def test_a_kind_the_evidence_cannot_qualify_is_left_alone(name, seen, code_share):
    """'Return' is no Python keyword (case-sensitive); 'and' or 'for' in prose say no language; ')' and '(' are
    brackets of two kinds, '==' none; a qualified name ('control flow keywords') is not a bare kind."""
    assert qualified_kind(name, seen, code_share) is None


@pytest.mark.parametrize(
    ("name", "shape", "expected"),
    [("digits", "digit", True), ("Numbers", "digit", True), ("even digits", "digit", False),
     ("punctuation", "punctuation", True), ("special characters", "punctuation", True),
     ("closing brackets", "punctuation", False), ("comparison operators", "punctuation", False),
     ("digits", "punctuation", False)],
)  # fmt: skip
def test_a_class_is_its_shape_only_when_it_names_nothing_narrower(name, shape, expected):
    """A digit is no control for 'digits', but '(' is one for 'closing brackets'."""
    assert names_shape(name, shape) is expected


def test_a_class_named_as_a_checkable_kind_keeps_its_membership_test():
    member = kind_member("Python keyword")
    assert member is not None and member("while") and not member("function")
    assert kind_member("python keywords") is not None
    assert kind_member("time words") is None and kind_member("keywords") is None


@pytest.mark.parametrize("name", ["pos_and_siz_pair", "acquire_lock", "MAX_SIZE"])
def test_an_identifier_from_the_code_names_no_class(name):
    """The 1.5B named the class of '_' peaks 'pos_and_siz_pair' (feature 4226), and it was tested and accepted."""
    assert class_name_problem(name, ["_"]) == IDENTIFIER


@pytest.mark.parametrize("name", ["snake_case identifiers", "__dunder__", "dunder methods"])
def test_a_class_name_that_mentions_identifiers_is_not_one(name):
    assert class_name_problem(name, ["_"]) != IDENTIFIER
