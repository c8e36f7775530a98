"""What the command line's strings load: the target to explain, the agent's LLM, and the exemplars a run starts from.

``sage-nb explain`` and ``sage-nb evaluate`` call these in their own process; the batch workers of
:mod:`sage_nb.agent.batch` call the same functions in theirs, so a string means the same thing everywhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

#: Device strings the toolkit takes (torch's names).
DEVICE_FORM = re.compile(r"^(cpu|mps|(cuda|xpu)(:\d+)?)$")


def device_form(device: str) -> str:
    """``device`` when it is written as a device (cpu, cuda, cuda:N, mps, xpu:N); ValueError naming the forms."""
    device = device.strip()
    if not DEVICE_FORM.match(device):
        raise ValueError(f"unknown device {device!r}: use cpu, cuda, cuda:N or mps")
    return device


def check_device(device: str) -> str:
    """``device`` when torch can use it here; ValueError naming the problem and the fix otherwise."""
    device = device_form(device)
    if device == "cpu":
        return device
    import torch

    kind, _, number = device.partition(":")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} was asked for, but torch sees no CUDA GPU here: use --device cpu, or install a "
                "CUDA build of torch"
            )
        count = torch.cuda.device_count()
        if number and int(number) >= count:
            raise ValueError(f"device {device!r} was asked for, but torch sees {count} CUDA GPU(s) (cuda:0..)")
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for, but torch sees no Apple GPU here: use --device cpu")
    elif kind == "xpu" and not (hasattr(torch, "xpu") and torch.xpu.is_available()):
        raise ValueError(f"device {device!r} was asked for, but torch sees no XPU here: use --device cpu")
    return device


def read_explanations(path: str | Path) -> dict[int, str]:
    """``{feature: explanation}`` from a JSON file holding an object such as ``{"100": "fires on ..."}``.

    Raises ValueError naming the file and the expected form for broken JSON, another shape, a key that is not a
    feature index or a value that is not a text; FileNotFoundError when the file is missing.
    """
    path = Path(path)
    form = 'a JSON object of feature index -> explanation, e.g. {"100": "fires on digits"}'
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err.msg} at line {err.lineno}): it should hold {form}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text: it should hold {form}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, not an object: it should hold {form}")
    out: dict[int, str] = {}
    for key, value in data.items():
        try:
            feature = int(str(key).strip())
        except ValueError:
            raise ValueError(f"{path}: key {key!r} is not a feature index; the file should hold {form}") from None
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{path}: the explanation of feature {key} is not a non-empty text; expected {form}")
        out[feature] = value
    return out


def load_explain_target(sae_path: str | None, target_llm: str | None, device: str) -> Any:
    """The target to explain: a model + SAE, or with ``sae_path="planted"`` the planted features over the
    tokenizer of ``target_llm`` (default: the embedded model's)."""
    if sae_path == "planted":
        from sage_nb.targets.planted import load_planted_target

        return load_planted_target(target_llm)
    from sage_nb.targets import load_target

    return load_target(model=target_llm, sae=sae_path, device=device)


def make_agent_llm(spec: str, record: str | None, device: str) -> Any:
    """The agent's LLM from a :func:`~sage_nb.llm.make_llm` spec; a local model runs on ``device``."""
    from sage_nb.llm import make_llm

    options = {"device": device} if spec.partition(":")[0] == "local" else {}
    return make_llm(spec, record=record, **options)


def check_llm(llm: Any) -> None:
    """Raise the LLM layer's error now when a backend of ``llm`` (each backend of a role router) cannot be reached;
    backends without a ``check_reachable()`` (local, replay) are taken as they are."""
    backends = getattr(llm, "backends", None)
    seen: set[int] = set()
    for backend in backends.values() if isinstance(backends, dict) else [llm]:
        check = getattr(backend, "check_reachable", None)
        if id(backend) not in seen and callable(check):
            seen.add(id(backend))
            check()


def mine_exemplars(target: Any, contexts: int, held_out: bool = False, progress: bool = True) -> Any:
    """The (cached) feature index of ``contexts`` contexts of the default corpus's training (or held-out) split."""
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import default_corpus
    from sage_nb.data.index import load_or_mine

    corpus = default_corpus().split(held_out=held_out)
    return load_or_mine(
        target, corpus_contexts(corpus, target.tokenizer, max_contexts=contexts), corpus.name, progress=progress
    )


def stored_exemplars(target: Any, features: list[int]) -> Any | None:
    """A Neuronpedia target's stored activations of ``features`` as an index; None for targets that mine a corpus."""
    from sage_nb.targets.neuronpedia import NeuronpediaTarget

    return target.exemplar_index(features) if isinstance(target, NeuronpediaTarget) else None
