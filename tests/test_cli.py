import resource
import subprocess
import sys
import time

import pytest

from sage_nb.cli import build_parser, main


def torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_help_lists_every_command_with_an_example(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        assert "example:" in (p.epilog or ""), f"{name} help has no example"
    out = subprocess.run([sys.executable, "-m", "sage_nb.cli", "--help"], capture_output=True, text=True).stdout
    for name in sub.choices:
        assert name in out


def test_bad_feature_index_is_a_clear_cli_error(capsys):
    assert main(["quickstart", "--contexts", "16", "--features", "999999"]) == 2
    assert "Unknown feature 999999" in capsys.readouterr().err


def test_unknown_sae_is_a_clear_cli_error(capsys):
    assert main(["mine", "--sae_path", "/no/such/sae"]) == 2
    assert "No SAE found" in capsys.readouterr().err


@pytest.mark.slow
def test_quickstart_prints_features_and_writes_a_page_by_default(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["quickstart", "--contexts", "64"]) == 0
    out = capsys.readouterr().out
    assert out.count("feature ") >= 3 and "peak tokens" in out
    page = tmp_path / "sage_nb_quickstart.html"
    assert str(page) in out and page.stat().st_size > 1000
    html = page.read_text()
    assert "circuitsvis" in html.lower() and "unpkg.com" not in html  # the bundle inline: it renders offline
    assert main(["quickstart", "--contexts", "64", "--no_html", "--features", "1,2,3"]) == 0
    assert "open " not in capsys.readouterr().out


def test_serve_llm_names_the_known_models_for_an_unknown_one(capsys):
    pytest.importorskip("llama_cpp")
    assert main(["serve-llm", "llama-70b"]) == 2
    err = capsys.readouterr().err
    assert "unknown embedded chat model 'llama-70b'" in err and "qwen2.5-coder-1.5b" in err


def test_serve_llm_command_line_points_llama_cpp_at_the_embedded_file():
    pytest.importorskip("llama_cpp")
    from sage_nb.llm.server import server_argv

    name, argv = server_argv("smollm2", port=8123, n_threads=1)
    assert name == "smollm2-135m"
    assert argv[1:3] == ["-m", "llama_cpp.server"] and argv[argv.index("--model") + 1].endswith(".gguf")
    assert argv[argv.index("--port") + 1] == "8123" and argv[argv.index("--model_alias") + 1] == "smollm2-135m"


# -- fast answers and one-line errors ------------------------------------------------------------------------------
def _one_line_error(err: str, command: str) -> str:
    assert err.startswith(f"sage-nb {command}: error: ") and len(err.strip().splitlines()) == 1, err
    return err


def test_help_answers_fast_without_importing_torch():
    code = (
        "import sys, time\n"
        "from sage_nb.cli import main\n"
        "for argv in (['--help'], ['explain', '--help'], ['evaluate', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 2.0  # CPU seconds (about 0.8 here; torch alone costs 3), not wall time: a busy machine passes


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "--features", "1", "--device", "bogus"], "unknown device 'bogus'"),
        (["explain", "--features", "1", "--workers", "2", "--devices", "cuda:0,gpu"], "unknown device 'gpu'"),
        (["evaluate", "--features", "1", "--scorers", "gen,foo"], "unknown scorer(s) 'foo'"),
    ],
)
def test_malformed_options_are_argument_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(torch_cuda(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize(
    "argv",
    [
        ["explain", "--sae_path", "planted", "--features", "0", "--device", "cuda"],
        ["explain", "--sae_path", "planted", "--features", "0", "--workers", "2", "--devices", "cuda:0,cuda:1"],
        ["evaluate", "--sae_path", "planted", "--features", "0", "--device", "cuda:1"],
    ],
)
def test_a_gpu_that_is_not_there_is_a_clear_error(argv, capsys, tmp_path):
    assert main([*argv, "--output_dir", str(tmp_path / "out")]) == 2
    assert "torch sees no CUDA GPU here: use --device cpu" in _one_line_error(capsys.readouterr().err, argv[0])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('["fires on digits"]', "holds a JSON list, not an object"),
        ('{"2": "digits"', "is not valid JSON"),
        ('{"two": "digits"}', "key 'two' is not a feature index"),
        ('{"2": ""}', "explanation of feature 2 is not a non-empty text"),
    ],
)
def test_bad_explanations_files_are_named(content, message, tmp_path, capsys):
    path = tmp_path / "mine.json"
    path.write_text(content)
    code = main(["evaluate", "--sae_path", "planted", "--features", "2", "--explanations", str(path),
                 "--output_dir", str(tmp_path / "eval")])  # fmt: skip
    err = _one_line_error(capsys.readouterr().err, "evaluate")
    assert code == 2 and str(path) in err and message in err and '{"100": "fires on digits"}' in err


def test_an_unreachable_scorer_llm_is_said_before_any_mining(tmp_path, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    start = time.monotonic()
    code = main(["evaluate", "--sae_path", "planted", "--features", "2", "--llm", f"openai-compatible:x@{url}",
                 "--output_dir", str(tmp_path / "eval")])  # fmt: skip
    err = _one_line_error(capsys.readouterr().err, "evaluate")
    assert code == 2 and f"nothing answers at {url} (connection error" in err and "start the openai-compatible" in err
    assert time.monotonic() - start < 30 and not (tmp_path / "eval").exists()


def test_a_malformed_llm_url_is_refused(tmp_path, capsys):
    code = main(["explain", "--sae_path", "planted", "--features", "0", "--agent_llm", "openai-compatible:x@not a url",
                 "--output_dir", str(tmp_path)])  # fmt: skip
    err = _one_line_error(capsys.readouterr().err, "explain")
    assert code == 2 and "'not a url' is not a server URL: expected http(s)://HOST[:PORT]/v1" in err


def test_a_broken_sae_config_names_the_file(tmp_path, capsys):
    sae = tmp_path / "sae"
    sae.mkdir()
    (sae / "cfg.json").write_text("{not json")
    (sae / "sae_weights.safetensors").write_bytes(b"")
    assert main(["mine", "--sae_path", str(sae)]) == 2
    err = _one_line_error(capsys.readouterr().err, "mine")
    assert f"{sae / 'cfg.json'} is not valid JSON" in err and "sage-nb train-sae --out DIR" in err


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
