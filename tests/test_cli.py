import subprocess
import sys

import pytest

from sage_nb.cli import build_parser, main


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
def test_quickstart_prints_features(capsys, tmp_path):
    html = tmp_path / "features.html"
    assert main(["quickstart", "--contexts", "64", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert out.count("feature ") >= 3 and "peak tokens" in out
    assert html.stat().st_size > 1000


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
