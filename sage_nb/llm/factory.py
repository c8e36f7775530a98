"""``make_llm(spec)``: the one place that maps backend names to backends.

Specs:

- ``"local"``: the embedded chat model (SmolLM2-135M) under llama.cpp; under transformers when llama.cpp is not
  installed (a warning says so).
- ``"local:NAME"`` / ``"llamacpp:NAME_OR_PATH"``: an embedded model by name (``smollm2-135m``, fast;
  ``qwen2.5-coder-1.5b``, capable) or any ``.gguf`` file, under llama.cpp.
- ``"local-capable"``: the capable embedded model in every role (see :data:`PRESETS`).
- ``"transformers:NAME_OR_PATH"``: a transformers chat model (the embedded one, a local folder or a Hub id),
  constrained by xgrammar. ``"local:PATH"`` with a folder means the same.
- ``"openai:MODEL"``: OpenAI (key in ``OPENAI_API_KEY``).
- ``"openai-compatible:MODEL@BASE_URL"``: any OpenAI-compatible server, e.g.
  ``"openai-compatible:qwen2.5:0.5b@http://127.0.0.1:11434/v1"`` for Ollama, or ``sage-nb serve-llm``. Its key is
  read from ``SAGE_NB_LLM_API_KEY`` (no key if unset), never from ``OPENAI_API_KEY``, so an OpenAI key is not sent to
  other servers; pass ``api_key_env=...`` to choose another variable.
- ``"anthropic:MODEL"`` / ``"gemini:MODEL"``: Claude's and Gemini's OpenAI-compatible endpoints
  (keys in ``ANTHROPIC_API_KEY`` / ``GEMINI_API_KEY``).
- ``"replay:PATH"``: answer from a recording (made with ``record=PATH``).
- Per role: ``"explainer,synthesis=SPEC;SPEC"`` or a mapping ``{"explainer": SPEC, "default": SPEC}``
  (:mod:`sage_nb.llm.roles`); the group without roles answers every other role.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sage_nb.llm.base import LLMBackend
from sage_nb.llm.embedded import DEFAULT_EMBEDDED_LLM, is_embedded
from sage_nb.llm.llamacpp_backend import LLAMA_CPP_REQUIREMENT, LlamaCppBackend, llama_cpp_available
from sage_nb.llm.replay import CallRecorder, ReplayBackend
from sage_nb.llm.roles import DEFAULT_ROLE, RoleRouter, check_roles, parse_role_spec
from sage_nb.llm.usage import Price, UsageTracker

log = logging.getLogger(__name__)

#: Hosted OpenAI-compatible endpoints reachable by a short prefix: (backend name, base URL, key variable).
HOSTED_ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "anthropic": ("anthropic", "https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY"),
    "gemini": ("gemini", "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY"),
}
SPEC_FORMS = (
    "local",
    "local:NAME_OR_PATH",
    "local-capable",
    "llamacpp:NAME_OR_PATH",
    "transformers:NAME_OR_PATH",
    "openai:MODEL",
    "openai-compatible:MODEL@BASE_URL",
    "anthropic:MODEL",
    "gemini:MODEL",
    "replay:PATH",
)


#: Named per-role splits of the embedded models.
PRESETS: dict[str, dict[str, str]] = {
    "local-capable": {"default": "llamacpp:qwen2.5-coder-1.5b"},
}


def make_llm(
    spec: str | Mapping[str, str] = "local",
    *,
    record: str | Path | None = None,
    tracker: UsageTracker | None = None,
    prices: Mapping[str, Price] | None = None,
    **options: Any,
) -> LLMBackend:
    """Build the backend named by ``spec`` (see the module docstring).

    ``record=PATH`` appends every call to a JSONL file for later ``replay:PATH``. ``tracker`` shares one
    :class:`UsageTracker` between backends; ``prices`` overrides entries of the default price table of a new
    tracker. Other keyword arguments go to the backend's constructor (e.g. ``retry=``, ``structured=``,
    ``batch_size=``, ``model=``/``tokenizer=`` for an already loaded local model).
    """
    if tracker is None:
        tracker = UsageTracker(prices=prices)
    elif prices:
        tracker.prices.update(prices)
    recorder = CallRecorder(record) if record is not None else None
    if isinstance(spec, str):
        spec = PRESETS.get(spec.strip(), None) or parse_role_spec(spec) or spec
    if not isinstance(spec, str):
        check_roles(spec)
        built: dict[str, LLMBackend] = {}  # one backend (one loaded model) per distinct spec
        for value in spec.values():
            if value.strip() not in built:
                built[value.strip()] = _build(value, tracker, recorder, dict(options))
        if len(built) == 1 and DEFAULT_ROLE in spec:
            return next(iter(built.values()))
        return RoleRouter({role: built[value.strip()] for role, value in spec.items()})
    return _build(spec, tracker, recorder, options)


def _build(spec: str, tracker: UsageTracker, recorder: CallRecorder | None, options: dict[str, Any]) -> LLMBackend:
    kind, _, rest = spec.strip().partition(":")
    if kind == "replay":
        if not rest:
            raise ValueError("replay needs a path: 'replay:PATH'")
        if recorder is not None:
            raise ValueError("a replay backend does not record")
        return ReplayBackend(rest, tracker=tracker, **options)
    if kind == "local" and not rest:
        if llama_cpp_available():
            return LlamaCppBackend(DEFAULT_EMBEDDED_LLM, tracker=tracker, recorder=recorder, **options)
        log.warning(
            "llama.cpp is not installed: 'local' runs SmolLM2-135M under transformers (~6x slower generation); "
            'install the engine with `pip install "%s"`',
            LLAMA_CPP_REQUIREMENT,
        )
        kind = "transformers"
    if kind == "llamacpp" or (kind == "local" and (is_embedded(rest) or rest.endswith(".gguf"))):
        if not rest:
            raise ValueError("llamacpp needs a model: 'llamacpp:smollm2-135m', 'llamacpp:qwen2.5-coder-1.5b' or a path")
        return LlamaCppBackend(rest, tracker=tracker, recorder=recorder, **options)
    if kind in ("local", "transformers"):
        from sage_nb.llm.local_backend import DEFAULT_LOCAL_MODEL, LocalBackend

        return LocalBackend(rest or DEFAULT_LOCAL_MODEL, tracker=tracker, recorder=recorder, **options)

    from sage_nb.llm.openai_backend import OpenAIBackend

    if kind == "openai" and rest:
        return OpenAIBackend(rest, tracker=tracker, recorder=recorder, **options)
    if kind == "openai-compatible":
        model, at, base_url = rest.rpartition("@")
        if not at or not model or not base_url:
            raise ValueError(f"expected 'openai-compatible:MODEL@BASE_URL', got {spec!r}")
        return OpenAIBackend(model, base_url=base_url, tracker=tracker, recorder=recorder, **options)
    if kind in HOSTED_ENDPOINTS and rest:
        name, base_url, key_env = HOSTED_ENDPOINTS[kind]
        options.setdefault("api_key_env", key_env)
        options.setdefault("require_key", True)
        return OpenAIBackend(rest, base_url=base_url, name=name, tracker=tracker, recorder=recorder, **options)
    raise ValueError(f"unknown LLM spec {spec!r}; use one of: {', '.join(SPEC_FORMS)}")


def as_llm(llm: LLMBackend | str | Mapping[str, str]) -> LLMBackend:
    """A backend from a spec string or a per-role mapping (see :func:`make_llm`), or ``llm`` itself."""
    return llm if isinstance(llm, LLMBackend) else make_llm(llm)
