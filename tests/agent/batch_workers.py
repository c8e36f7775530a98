"""Picklable pieces of a batch spec for the tests: spawned workers import this module by name."""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from scripted import ScriptedLLM, planted_feature_data, truthful

from sage_nb.agent.batch import BatchSpec


def scripted_index(target: Any, features: list[int]) -> Any:
    """The planted features mined over the scripted corpus (a second, not the default corpus's minutes)."""
    index, _ = planted_feature_data(target)
    return index


def misbehave(
    role: str, messages: Any, request: Any, *, fail: int | None = None, crash: int | None = None, base: Any = truthful
) -> Any:
    """``base``, except that a call about feature ``fail`` raises, and one about feature ``crash`` ends the process
    at once with exit status 9, the way a crash in native code or the kernel's OOM killer would."""
    if crash is not None and request.feature == str(crash):
        os._exit(9)
    if fail is not None and request.feature == str(fail):
        raise RuntimeError(f"the scripted LLM refuses feature {fail}")
    return base(role, messages, request)


def planted_spec(policy: Any = truthful, delay: float = 0.0) -> BatchSpec:
    """Planted target, scripted agent LLM (``delay`` seconds per call), exemplars from the scripted corpus."""
    return BatchSpec(sae="planted", agent_llm=partial(ScriptedLLM, policy, delay=delay), exemplars=scripted_index)
