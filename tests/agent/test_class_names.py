"""A generalizer's class name is checked before its class is tested."""

from __future__ import annotations

import pytest

from sage_nb.agent.class_names import POSITION_CLASSES, class_name_problem


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
    assert "without saying of which language, topic or use" in class_name_problem(name, ["return", ")"])


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
