"""``make_llm(spec)``: the one place that maps backend names to backends.

Specs:

- ``"local"`` or ``"local:NAME_OR_PATH"``: the embedded chat model (default) or any local/Hub chat model.
- ``"openai:MODEL"``: OpenAI (key in ``OPENAI_API_KEY``).
- ``"openai-compatible:MODEL@BASE_URL"``: any OpenAI-compatible server, e.g.
  ``"openai-compatible:qwen2.5:0.5b@http://127.0.0.1:11434/v1"`` for Ollama. Its key is read from
  ``SAGE_NB_LLM_API_KEY`` (no key if unset), never from ``OPENAI_API_KEY``, so an OpenAI key is not sent to other
  servers; pass ``api_key_env=...`` to choose another variable.
- ``"anthropic:MODEL"`` / ``"gemini:MODEL"``: Claude's and Gemini's OpenAI-compatible endpoints
  (keys in ``ANTHROPIC_API_KEY`` / ``GEMINI_API_KEY``).
- ``"replay:PATH"``: answer from a recording (made with ``record=PATH``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sage_nb.llm.base import LLMBackend
from sage_nb.llm.replay import CallRecorder, ReplayBackend
from sage_nb.llm.usage import Price, UsageTracker

#: Hosted OpenAI-compatible endpoints reachable by a short prefix: (backend name, base URL, key variable).
HOSTED_ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "anthropic": ("anthropic", "https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY"),
    "gemini": ("gemini", "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY"),
}
SPEC_FORMS = (
    "local",
    "local:NAME_OR_PATH",
    "openai:MODEL",
    "openai-compatible:MODEL@BASE_URL",
    "anthropic:MODEL",
    "gemini:MODEL",
    "replay:PATH",
)


def make_llm(
    spec: str = "local",
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
    kind, _, rest = spec.partition(":")
    if tracker is None:
        tracker = UsageTracker(prices=prices)
    elif prices:
        tracker.prices.update(prices)
    recorder = CallRecorder(record) if record is not None else None

    if kind == "replay":
        if not rest:
            raise ValueError("replay needs a path: 'replay:PATH'")
        if recorder is not None:
            raise ValueError("a replay backend does not record")
        return ReplayBackend(rest, tracker=tracker, **options)
    if kind == "local":
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
