"""``sage-nb explain`` on the planted target, answered by a replay of a scripted run on the same exemplars."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from scripted import ScriptedLLM, user_text

from sage_nb.agent import AgentConfig, Bounds, explain
from sage_nb.agent.api import feature_folder, parse_features
from sage_nb.cli import agent_config, build_parser, main, mine_exemplars
from sage_nb.llm import make_llm
from sage_nb.llm.replay import CallRecorder
from sage_nb.targets import Target

#: Corpus contexts mined in these tests (the CLI's default is 2000; the planted weekday feature needs more than
#: this, so the runs explain the digit feature, which fires often in the stdlib corpus).
CONTEXTS = 300
DIGIT = 2

DIGIT_TESTS = [
    {"text": "The year 2024 had 366 days.", "expect": "high"},
    {"text": "Call 555 0199 before 10 tonight.", "expect": "high"},
    {"text": "No numbers appear in this sentence.", "expect": "low"},
]
DEF_TESTS = [
    {"text": "def main(): pass", "expect": "high"},
    {"text": "def helper(x): return x", "expect": "high"},
    {"text": "a plain sentence", "expect": "low"},
]


def digits(role, messages, request):
    """A competent agent for the planted digit feature: H1 (digits) should hold, H2 ('def') should not."""
    text = user_text(messages)
    if role == "explainer":
        return {
            "hypotheses": [
                {"tokens": ["1", "2"], "claim": "fires on digits in numbers", "example": "It cost 4500 in 1999."},
                {"tokens": ["def"], "claim": "fires on the keyword def", "example": "def main():"},
            ]
        }
    if role == "designer":
        return {"tests": DIGIT_TESTS if "Hypothesis H1 " in text else DEF_TESTS}
    if role == "analyzer":
        return {"verdict": "refute" if "NOT as expected" in text else "accept", "reason": "from the measured tests"}
    if role == "reviewer":
        return {"decision": "finish", "tests": []}
    if role == "synthesis":
        return {"description": "Fires on digits, more on later digits of long numbers.", "labels": ["digits"]}
    raise AssertionError(role)


def run_cli(*args: str) -> tuple[int, str, str]:
    """``sage-nb ARGS`` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def explain_cli(replay: Path, output_dir: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli(
        "explain",
        "--sae_path",
        "planted",
        "--features",
        "digit",
        "--contexts",
        str(CONTEXTS),
        "--agent_llm",
        f"replay:{replay}",
        "--output_dir",
        str(output_dir),
        *extra,
    )


@pytest.fixture(scope="module")
def recording(planted, tmp_path_factory):
    """A scripted run recorded on exactly the exemplars the CLI mines, with the CLI's default settings."""
    path = tmp_path_factory.mktemp("recording") / "calls.jsonl"
    llm = ScriptedLLM(digits)
    llm.recorder = CallRecorder(path)
    state = explain(planted, DIGIT, llm, index=mine_exemplars(planted, CONTEXTS), config=AgentConfig())
    assert state.done and state.explanation is not None and state.llm_calls > 3
    return path, state


@pytest.fixture(scope="module")
def first_run(recording, tmp_path_factory):
    """The CLI's run of the digit feature: (output_dir, printed summary)."""
    path, _ = recording
    out_dir = tmp_path_factory.mktemp("results")
    code, out, err = explain_cli(path, out_dir)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1, out
    return out_dir, json.loads(lines[0])


def test_explain_writes_the_sage_folder_and_prints_what_it_holds(planted, recording, first_run):
    _, original = recording
    out_dir, summary = first_run
    folder = feature_folder(out_dir, make_llm(f"replay:{recording[0]}"), planted, DIGIT).path
    assert folder == out_dir / "scripted-test" / planted.model_name / "layer_planted" / f"feature_{DIGIT}"
    assert summary["folder"] == str(folder)
    assert summary["feature"] == DIGIT and summary["status"] == "done"
    assert summary["labels"] == original.explanation.labels == ["digits"]
    assert summary["description"] == original.explanation.description
    assert summary["llm_calls"] == original.llm_calls and summary["tokens"] == original.tokens

    results = json.loads((folder / "structured_results.json").read_text())
    assert results["final_state"] == "done" and results["stop_reason"] is None
    assert results["explanation"]["labels"] == summary["labels"]
    assert (folder / "labels.txt").read_text().splitlines() == summary["labels"]
    assert (folder / "description.txt").read_text().strip() == summary["description"]
    usage = json.loads((folder / "token_usage.json").read_text())
    assert usage["llm_calls"] == summary["llm_calls"] and usage["total_tokens"] == summary["tokens"]
    assert [h["status"] for h in results["hypotheses"]] == [h.status for h in original.hypotheses]


def test_a_second_run_skips_the_finished_feature(recording, first_run, tmp_path):
    out_dir, summary = first_run
    folder = Path(summary["folder"])
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    partial = tmp_path / "explainer_only.jsonl"  # answers the first call only: any rerun would fail
    partial.write_text(recording[0].read_text().splitlines(keepends=True)[0])

    code, out, err = explain_cli(partial, out_dir)
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [summary]
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps

    code, out, err = explain_cli(partial, tmp_path / "fresh")  # the control: a new run does need the calls
    assert code == 2 and out == ""
    errors = [line for line in err.splitlines() if "error" in line]  # the rest is the progress bar, closed first
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0] and "no recorded call" in errors[0]


def test_a_run_with_other_settings_is_refused_with_the_fix(recording, first_run):
    out_dir, summary = first_run
    folder = Path(summary["folder"])
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    code, out, err = explain_cli(recording[0], out_dir, "--no_evidence")
    assert code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("sage-nb explain: error: ") and f"{folder} holds a run made with other settings" in last
    assert "agent.use_evidence: true -> false" in last and "--overwrite" in last and "--output_dir" in last
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps


def test_record_with_a_replay_backend_is_a_clear_error(recording, tmp_path):
    code, _, err = explain_cli(recording[0], tmp_path, "--record", str(tmp_path / "again.jsonl"))
    assert code == 2 and "does not record" in err


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ("layer8=0", "the SAE reads layer planted"),
        ("99", "Unknown feature 99: this SAE has 12 features (0..11)"),
        ("weekdy", "No planted feature named 'weekdy'"),
        ("digit;layer0=1", "asked for, but the SAE reads layer planted"),
    ],
)
def test_bad_features_exit_2_with_one_line(features, message, tmp_path):
    code, out, err = run_cli("explain", "--sae_path", "planted", "--features", features, "--output_dir", str(tmp_path))
    assert code == 2 and out == ""
    assert message in err and err.startswith("sage-nb explain: error: ")
    assert len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing mined or written


def test_bad_llm_spec_exits_2(tmp_path):
    code, _, err = run_cli("explain", "--sae_path", "planted", "--features", "0", "--agent_llm", "bogus:x")
    assert code == 2 and "unknown LLM spec 'bogus:x'" in err


class FakeTarget:
    """A target with an SAE at layer 0 and 200 features, validated like the real one."""

    layer = 0
    d_sae = 200
    check_features = Target.check_features


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("layer0=1", [1]),
        ("3, 4", [3, 4]),
        ("layer0=1,2; layer0=5", [1, 2, 5]),
        ("layer_0=7,7", [7]),
        ("LAYER0=9;", [9]),
        ([1, 1, 2], [1, 2]),
    ],
)
def test_parse_features(spec, expected):
    assert parse_features(spec, FakeTarget()) == expected


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("layer8=1", ValueError, "the SAE reads layer 0"),
        ("block0=1", ValueError, "expected 'layerN=F1,F2'"),
        ("weekday", ValueError, "names exist only on planted targets"),
        ("layer0=200", IndexError, "0..199"),
        ("-1", IndexError, "Unknown feature -1"),
        ("", ValueError, "No feature index given"),
        ("layer0=", ValueError, "No feature index given"),
    ],
)
def test_parse_features_rejects(spec, error, message):
    with pytest.raises(error, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_features(spec, FakeTarget())


def test_parse_features_takes_planted_names(planted):
    assert parse_features("weekday,digit", planted) == [0, 2]
    assert parse_features("layerplanted=digit,0", planted) == [2, 0]
    with pytest.raises(KeyError, match="weekdy"):
        parse_features("weekdy", planted)


def test_options_become_the_agent_config():
    args = build_parser().parse_args(
        [
            "explain",
            "--features",
            "1",
            "--max_rounds",
            "3",
            "--hypotheses",
            "2",
            "--max_llm_calls",
            "25",
            "--token_budget",
            "9000",
            "--review_rounds",
            "0",
            "--top_k",
            "5",
            "--no_evidence",
            "--computed_hypothesis",
            "--no_pair_tests",
            "--generalize",
            "--context_probe",
        ]
    )
    config = agent_config(args)
    assert config.generalize and config.context_probe
    assert config.bounds == Bounds(hypotheses=2, rounds_per_hypothesis=3, review_rounds=0, llm_calls=25, tokens=9000)
    assert config.top_k == 5 and not config.use_evidence and config.computed_hypothesis and not config.pair_tests
    defaults = agent_config(build_parser().parse_args(["explain", "--features", "1"]))
    assert defaults == AgentConfig() and defaults.computed_hypothesis is None  # by backend
    assert not defaults.generalize
    off = agent_config(build_parser().parse_args(["explain", "--features", "1", "--no_computed_hypothesis"]))
    assert off.computed_hypothesis is False
    with pytest.raises(SystemExit):  # one or the other
        build_parser().parse_args(["explain", "--features", "1", "--computed_hypothesis", "--no_computed_hypothesis"])
    assert (args.agent_llm, args.contexts, args.output_dir) == ("local", 2000, "results")


def test_explain_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["explain", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and "--sae_path planted" in out and "layer8=" in out and "openai-compatible:" in out
