"""`sage-nb evaluate`: help, clear errors, and a scored run on the planted target with a recorded LLM."""

from __future__ import annotations

import json

import pytest

from sage_nb.cli import main


def test_help_has_examples(capsys):
    try:
        main(["evaluate", "--help"])
    except SystemExit as done:
        assert done.code == 0
    assert "example:" in capsys.readouterr().out


def test_nothing_to_evaluate_is_a_clear_error(tmp_path, capsys):
    args = ["evaluate", "--sae_path", "planted", "--features", "digit", "--no_baseline",
            "--sage_dir", str(tmp_path / "none"), "--output_dir", str(tmp_path)]  # fmt: skip
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and "nothing to evaluate" in err and "no finished SAGE run for feature 2" in err


@pytest.mark.slow  # mines both corpus splits for the planted target (about a minute on 2 cores)
def test_user_explanations_are_scored_and_written(tmp_path, capsys, monkeypatch):
    """The input metric on a user explanation, the scorer LLM replaying a scripted recording."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "agent"))
    from scripted import ScriptedLLM

    from sage_nb.llm.replay import CallRecorder

    def writes(role, messages, request):
        return {"positives": [f"call 55{i} 0100 now" for i in range(5)],
                "negatives": [f"hello there friend number {w}" for w in "abcde"]}  # fmt: skip

    record = tmp_path / "calls.jsonl"
    llm = ScriptedLLM(writes)
    llm.recorder = CallRecorder(record)
    import sage_nb.cli as cli

    real = cli.make_agent_llm
    monkeypatch.setattr(
        cli, "make_agent_llm", lambda spec, rec, dev: llm if spec == "scripted" else real(spec, rec, dev)
    )
    user = tmp_path / "mine.json"
    user.write_text(json.dumps({"2": "fires on digits"}))
    args = ["evaluate", "--sae_path", "planted", "--features", "digit", "--no_baseline", "--explanations", str(user),
            "--top_tokens",
            "--scorers", "input", "--contexts", "200", "--held_out_contexts", "200", "--sage_dir", str(tmp_path / "x"),
            "--output_dir", str(tmp_path / "eval")]  # fmt: skip
    assert main([*args, "--llm", "scripted", "--sage_llm", "scripted"]) == 0
    out = capsys.readouterr().out
    assert "input" in out and "user" in out
    comparison = json.loads((tmp_path / "eval" / "feature_2_comparison.json").read_text())
    assert comparison["explainers"]["user"]["scores"]["input"]["value"] == 1.0
    computed = comparison["explainers"]["top-tokens"]
    assert "a digit" in computed["labels"] and computed["scores"]["input"]["value"] == 1.0
    # the same command with the recording replayed (no scripted backend at all) gives the same file
    assert main([*args, "--llm", f"replay:{record}", "--sage_llm", "local"]) == 0
    again = json.loads((tmp_path / "eval" / "feature_2_comparison.json").read_text())
    assert again["explainers"]["user"]["scores"]["input"]["value"] == 1.0
    assert again["explainers"]["top-tokens"] == computed


@pytest.mark.slow  # mines both corpus splits for the planted target, then reads the embedded model
def test_sim_mode_forced_reads_the_simulation_with_the_llama_cpp_engine(tmp_path, capsys):
    pytest.importorskip("llama_cpp")
    user = tmp_path / "mine.json"
    user.write_text(json.dumps({"2": "fires on digits"}))
    args = ["evaluate", "--sae_path", "planted", "--features", "digit", "--no_baseline", "--explanations", str(user),
            "--scorers", "simulation", "--sim_mode", "forced", "--sim_filler", "unknown",
            "--llm", "llamacpp:smollm2-135m", "--contexts", "200", "--held_out_contexts", "200",
            "--sage_dir", str(tmp_path / "x"), "--output_dir", str(tmp_path / "eval")]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    comparison = json.loads((tmp_path / "eval" / "feature_2_comparison.json").read_text())
    details = comparison["explainers"]["user"]["scores"]["simulation"]["details"]
    assert details["mode"] == "forced" and details["method"] == "logprobs" and details["failed"] == 0
    assert details["filler"] == "unknown"
    assert all(len(c["predicted"]) == c["n_tokens"] for c in details["contexts"])
