"""Batch evaluation: shared samples, files, tables, paired tests, plots, and a cached re-run that costs nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).parents[1] / "agent"))
from scripted import ScriptedLLM  # noqa: E402

from sage_nb.core.text import whitespace_name  # noqa: E402
from sage_nb.evaluate.base import Candidate, Score, Scorer  # noqa: E402
from sage_nb.evaluate.report import EvalReport, bootstrap_ci, evaluate, make_scorer, paired_test  # noqa: E402


class Texts(BaseModel):
    texts: list[str]


class EchoScorer(Scorer):
    """Asks the LLM for texts from the explanation, measures them, scores the share that fire."""

    name = "echo"

    def score(self, candidate, setup):
        result = setup.llm.complete(
            candidate.text(setup.representation), Texts, role="echo", feature=str(setup.feature)
        )
        rows = setup.measure.measure(result.parsed.texts, setup.feature)
        fired = [r.max_act > 0 for r in rows]
        return Score(self.name, setup.feature, candidate.explainer, sum(fired) / len(fired), len(fired),
                     {"samples": len(setup.samples)})  # fmt: skip


def writes_digits(role, messages, request):
    explanation = messages[-1]["content"]
    return {"texts": ["call 555 0100", "room 12"] if "digit" in explanation else ["hello there", "good day"]}


@pytest.fixture(scope="module")
def indexes():
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import default_corpus
    from sage_nb.data.index import mine
    from sage_nb.targets.planted import load_planted_target

    planted = load_planted_target()
    corpus = default_corpus()
    train = corpus_contexts(corpus.split(held_out=False), planted.tokenizer, max_contexts=200)
    held = corpus_contexts(corpus.split(held_out=True), planted.tokenizer, max_contexts=200)
    return (
        planted,
        mine(planted, train, top_k=5, samples=8, progress=False),
        mine(planted, held, top_k=5, samples=8, progress=False),
    )


def test_evaluate_writes_files_and_reruns_from_cache(indexes, tmp_path):
    planted, index, held = indexes
    digit, bracket = planted.feature("digit").index, planted.feature("closing_bracket").index
    candidates = [
        Candidate(digit, "sage", "fires on digit tokens", ["digits"]),
        Candidate(digit, "baseline", "fires on greetings", ["greetings"]),
        Candidate(bracket, "sage", "fires on digit-like closing brackets", ["brackets"]),
        Candidate(bracket, "baseline", "fires on words", ["words"]),
    ]
    llm = ScriptedLLM(writes_digits)
    report = evaluate(planted, candidates, llm, index=index, held_out=held, scorers=[EchoScorer()],
                      output_dir=tmp_path, progress=False)  # fmt: skip
    assert len(llm.calls) == 4
    df = report.frame()
    assert df.set_index(["feature", "explainer"]).loc[(digit, "sage"), "value"] == 1.0
    assert df.set_index(["feature", "explainer"]).loc[(digit, "baseline"), "value"] == 0.0
    assert all(s.details["samples"] > 0 for s in report.scores)
    comparison = json.loads((tmp_path / f"feature_{digit}_comparison.json").read_text())
    assert set(comparison["explainers"]) == {"sage", "baseline"}
    assert comparison["explainers"]["sage"]["scores"]["echo"]["value"] == 1.0
    assert comparison["samples"] and {s["band"] for s in comparison["samples"]} >= {"zero"}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["paired"][0]["metric"] == "echo" and summary["paired"][0]["n"] == 2

    again_llm = ScriptedLLM(writes_digits)
    again = evaluate(planted, candidates, again_llm, index=index, held_out=held, scorers=[EchoScorer()],
                     output_dir=tmp_path, progress=False)  # fmt: skip
    assert again_llm.calls == []  # every generation came from the cache
    assert again.frame()["value"].tolist() == df["value"].tolist()


def test_samples_exclude_the_exemplars_when_one_index_serves_both(indexes):
    planted, index, _ = indexes
    digit = planted.feature("digit").index
    seen = {}

    class Spy(Scorer):
        name = "spy"

        def score(self, candidate, setup):
            seen["contexts"] = {s.context for s in setup.samples}
            seen["exemplars"] = {ex.context_index for ex in setup.feature_data.top}
            return Score(self.name, setup.feature, candidate.explainer, 0.0)

    evaluate(planted, [Candidate(digit, "x", "d")], ScriptedLLM(writes_digits), index=index, held_out=index,
             scorers=[Spy()], progress=False)  # fmt: skip
    assert seen["contexts"] and not seen["contexts"] & seen["exemplars"]


def test_paired_test_and_intervals():
    better = [(0.9, 0.5), (0.8, 0.4), (0.7, 0.6), (0.95, 0.3), (0.6, 0.5), (0.85, 0.2)]
    t = paired_test("gen", "sage", "baseline", better)
    assert t.n == 6 and t.mean_diff == pytest.approx(sum(a - b for a, b in better) / 6)
    assert t.wilcoxon_p == pytest.approx(0.03125) and t.ci_low > 0 and t.bootstrap_p < 0.05
    same = paired_test("gen", "a", "b", [(0.5, 0.5), (0.4, 0.4)])
    assert same.wilcoxon_p is None and same.mean_diff == 0
    lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0])
    assert 1.0 <= lo < 2.5 < hi <= 4.0


def test_report_views_and_plots():
    scores = [Score("gen", f, e, v) for f, e, v in [(1, "sage", 0.8), (1, "baseline", 0.4), (2, "sage", 0.6),
                                                   (2, "baseline", 0.5), (3, "sage", None)]]  # fmt: skip
    report = EvalReport(scores, [Candidate(1, "sage", "a"), Candidate(1, "baseline", "b")])
    table = report.table().set_index("explainer")
    assert table.loc["sage", "mean"] == pytest.approx(0.7) and table.loc["sage", "features"] == 2
    assert report.wide().shape == (2, 2)  # feature 3 has no value
    assert report.compare_frame()["n"].tolist() == [2]
    assert len(report.plot().axes) == 1
    assert report.plot_paired("gen").axes[0].get_title() == "gen: per feature"


def test_unknown_scorer_and_feature_are_clear_errors(indexes):
    planted, index, held = indexes
    with pytest.raises(ValueError, match="Unknown scorer"):
        make_scorer("vibes")
    with pytest.raises(IndexError):
        evaluate(planted, [Candidate(99, "x", "y")], ScriptedLLM(writes_digits), index=index, held_out=held,
                 scorers=[], progress=False)  # fmt: skip


def test_a_candidate_names_a_token_only_as_a_whole_word():
    c = Candidate(1, "sage", "Fires on capitalised words such as ALL, used in code where a==b.", ["Monday names"])
    assert c.names_any(["ALL"]) and c.names_any([" monday"]) and c.names_any(["=="])
    assert not c.names_any(["ED", "AL", "ODE"])  # inside "used", "capitalised", "code": not named
    assert not c.names_any(["a", "5"])  # one character: too ambiguous to count


def test_with_include_short_a_quoted_character_and_a_named_whitespace_token_count():
    c = Candidate(1, "sage", "Fires on '#' and on a line break; the activation stays on that token.", ["spaces"])
    assert not c.names_any(["#"]) and not c.names_any(["\n"])  # the default stays strict
    assert c.names_any(["#"], include_short=True) and c.names_any([" #"], include_short=True)
    assert c.names_any(["\n"], include_short=True) and c.names_any(["  "], include_short=True)  # "spaces"
    assert not c.names_any(["a", "L", "\t"], include_short=True)  # 'a' unquoted, no 'L', no tab
    assert Candidate(1, "x", "Capital letter `L`").names_any(["L"], include_short=True)
    assert not Candidate(1, "x", "Whitespace only.").names_any([" "], include_short=True)  # not "space" alone


@pytest.mark.parametrize("token", ["\n", "\n\n", "\t", " ", "   "])
def test_the_computed_name_of_a_whitespace_token_counts_as_naming_it(token):
    assert Candidate(1, "top-tokens", f"Fires on {whitespace_name(token)}.").names_any([token], include_short=True)
