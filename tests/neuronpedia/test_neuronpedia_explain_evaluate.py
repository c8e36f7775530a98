"""The SAGE loop and the evaluation on a Neuronpedia feature served by the local server, with scripted LLM replies."""

from __future__ import annotations

import json

import pytest
from fake_neuronpedia import DIGIT, MODEL, SILENT, SOURCE, WEEKDAY
from scripted import ScriptedLLM, truthful

from sage_nb.agent import explain, explain_features
from sage_nb.evaluate.base import Candidate
from sage_nb.evaluate.report import evaluate
from sage_nb.targets.neuronpedia import NeuronpediaClient, NeuronpediaTarget

SPEC = f"neuronpedia://{MODEL}/{SOURCE}"
WEEKDAY_TEXTS = [
    "We met on Monday at the old station.",
    "Tuesday was cold and wet all day long.",
    "The shop closes early every Wednesday in winter.",
    "Thursday brought the first snow of the year.",
    "See you on Friday after the long meeting.",
    "Saturday is the day for the farmers market.",
    "On Sunday the whole town stayed indoors.",
    "The parcel arrived on Monday, two days late.",
    "Our class moved from Tuesday to Thursday this term.",
    "Friday evenings are quiet in the small village.",
]
DIGIT_TEXTS = [f"Room {n} is on floor {n % 7} of the tower." for n in range(101, 111)]
UNRELATED = [
    "The cat slept all afternoon by the window.",
    "A quiet walk along the beach cleared her mind.",
    "Rain fell softly on the old tin roof.",
    "They painted the fence a pale shade of green.",
    "The soup needed more salt and pepper tonight.",
]


def scorer_policy(role, messages, request):
    """Writes texts for whatever the explanation names: weekdays or digits."""
    explanation = messages[-1]["content"].split("\n")[0].lower()
    texts = WEEKDAY_TEXTS if "week" in explanation else DIGIT_TEXTS
    if role == "gen":
        return {"texts": texts}
    if role == "input":
        return {"positives": texts[:5], "negatives": UNRELATED}
    raise AssertionError(role)


def activation_posts(server):
    return server.requests("POST", "/api/activation/new")


# -- the SAGE loop ----------------------------------------------------------------------------------------------------
def test_explain_finishes_a_run_on_a_neuronpedia_feature(server, np_target, tmp_path):
    llm = ScriptedLLM(truthful)
    state = explain(np_target, WEEKDAY, llm, feature_data=np_target.feature_data(WEEKDAY), output_dir=tmp_path)
    assert state.done and state.stop_reason is None
    h1, h2 = state.hypotheses
    assert (h1.claim, h1.status) == ("fires on weekday names", "accepted")
    assert h2.status == "refuted"
    assert state.explanation.labels == ["weekday names"]

    # every designed test was measured by the server, and the evidence holds the server's activations
    designed = {m.text for t in state.turns if t.role == "designer" for m in t.measurements}
    sent = {text for hit in activation_posts(server) for text in hit.body["customText"]}
    assert designed and designed <= sent
    for e in state.explanation.evidence:
        assert e.max_act == pytest.approx(np_target.measure(e.text, WEEKDAY).max_act)

    folder = tmp_path / "scripted-test" / MODEL / "layer_20" / f"feature_{WEEKDAY}"
    results = json.loads((folder / "structured_results.json").read_text())
    assert results["final_state"] == "done"
    assert results["meta"]["sae"] == SPEC and results["meta"]["hook"] == SOURCE
    assert results["meta"]["target_llm"] == MODEL


def test_a_rerun_measures_nothing_new(server, np_target, tmp_path):
    explain(np_target, WEEKDAY, ScriptedLLM(truthful), feature_data=np_target.feature_data(WEEKDAY))
    before = len(server.hits)
    with NeuronpediaClient(server.url, cache_dir=np_target.client.cache.folder) as client:
        again = NeuronpediaTarget(MODEL, SOURCE, client=client)
        state = explain(again, WEEKDAY, ScriptedLLM(truthful), feature_data=again.feature_data(WEEKDAY))
        assert state.done and client.http_requests == 0
    assert len(server.hits) == before


def test_explain_features_takes_the_stored_exemplars_as_its_index(server, np_target, tmp_path):
    index = np_target.exemplar_index([WEEKDAY, SILENT])
    states = explain_features(np_target, [WEEKDAY, SILENT], ScriptedLLM(truthful), index=index, output_dir=tmp_path,
                              progress=False)  # fmt: skip
    assert states[0].done and states[0].explanation.labels == ["weekday names"]
    assert "never fired" in states[1].stop_reason


def test_the_cli_explains_a_neuronpedia_feature(server, tmp_path, monkeypatch, capsys):
    import sage_nb.cli as cli

    monkeypatch.setenv("NEURONPEDIA_URL", server.url)
    monkeypatch.setenv("SAGE_NB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cli, "make_agent_llm", lambda spec, record, device: ScriptedLLM(truthful))
    code = cli.main(["explain", "--sae_path", SPEC, "--features", f"layer20={WEEKDAY}", "--agent_llm", "scripted",
                     "--output_dir", str(tmp_path / "results")])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["status"] == "done" and summary["labels"] == ["weekday names"]
    assert summary["folder"].endswith(f"{MODEL}/layer_20/feature_{WEEKDAY}")
    assert (tmp_path / "cache" / "neuronpedia").is_dir()

    code = cli.main(["explain", "--sae_path", SPEC, "--features", "99999", "--agent_llm", "scripted"])
    assert code == 2 and "Unknown feature 99999" in capsys.readouterr().err


# -- the evaluation ---------------------------------------------------------------------------------------------------
def test_evaluate_scores_the_stored_explanation_on_stored_samples(server, np_target, tmp_path):
    features = [WEEKDAY, DIGIT]
    index = np_target.exemplar_index(features)
    candidates = [*np_target.candidates(features), Candidate(WEEKDAY, "wrong", "digits in numbers")]
    llm = ScriptedLLM(scorer_policy)
    report = evaluate(np_target, candidates, llm, index=index, held_out=index, scorers=["gen", "input"],
                      output_dir=tmp_path, progress=False)  # fmt: skip
    values = report.frame().set_index(["feature", "explainer", "metric"])["value"]
    assert values[(WEEKDAY, "neuronpedia", "gen")] == 1.0 and values[(WEEKDAY, "neuronpedia", "input")] == 1.0
    assert values[(DIGIT, "neuronpedia", "gen")] == 1.0
    assert values[(WEEKDAY, "wrong", "gen")] == 0.0 and values[(WEEKDAY, "wrong", "input")] == 0.0

    comparison = json.loads((tmp_path / f"feature_{WEEKDAY}_comparison.json").read_text())
    assert set(comparison["explainers"]) == {"neuronpedia", "wrong"}
    samples = comparison["samples"]
    top = {"".join(ex.tokens) for ex in index.exemplars(WEEKDAY, np_target.token_strings)}
    assert samples and not {s["text"] for s in samples} & top  # held out: never an exemplar the explainers saw
    assert any(s["band"] == "zero" for s in samples) and any(s["band"] != "zero" for s in samples)

    before, calls = len(server.hits), len(llm.calls)
    again = ScriptedLLM(scorer_policy)
    rerun = evaluate(np_target, candidates, again, index=index, held_out=index, scorers=["gen", "input"],
                     output_dir=tmp_path, progress=False)  # fmt: skip
    assert calls == 4  # the wrong candidate's text is the digit explanation's: one cached call serves both
    assert len(server.hits) == before and again.calls == []
    assert rerun.frame()["value"].tolist() == report.frame()["value"].tolist()


def test_the_cli_evaluates_the_stored_explanations(server, tmp_path, monkeypatch, capsys):
    import sage_nb.cli as cli

    monkeypatch.setenv("NEURONPEDIA_URL", server.url)
    monkeypatch.setenv("SAGE_NB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cli, "make_agent_llm", lambda spec, record, device: ScriptedLLM(scorer_policy))
    code = cli.main(["evaluate", "--sae_path", SPEC, "--features", f"{WEEKDAY},{DIGIT}", "--llm", "scripted",
                     "--sage_llm", "scripted", "--no_baseline", "--scorers", "gen,input",
                     "--sage_dir", str(tmp_path / "none"), "--output_dir", str(tmp_path / "eval")])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "neuronpedia" in out and "gen" in out
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["explainers"] == ["neuronpedia"] and summary["features"] == [DIGIT, WEEKDAY]
