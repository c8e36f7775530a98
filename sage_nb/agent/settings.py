"""A run's identity: every setting its result depends on, recorded in its folder and checked before it is reused.

:class:`RunSettings` holds the target (:class:`~sage_nb.data.identity.TargetIdentity`: model, hook, SAE), the
exemplars (the index's corpus and mined contexts, or a digest of the ``feature_data`` given), the agent's
:class:`~sage_nb.agent.loop.AgentConfig` (bounds included) and the backend and model answering each role. Its
:attr:`~RunSettings.fingerprint` is a digest of all four; :meth:`~RunSettings.differences` names what differs in
words a person can act on.

A replay of a recorded run counts as the backend it replays (it reproduces that backend's answers). A setting that
a stored run lacks (a field added to ``AgentConfig`` later) counts as its default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sage_nb.agent.prompts import SCHEMAS
from sage_nb.data.identity import TargetIdentity, settings_digest, target_identity
from sage_nb.data.records import FeatureData

#: The roles of the loop, each of which may have its own LLM.
ROLES: tuple[str, ...] = tuple(SCHEMAS)
#: Sections of the settings, in the order differences are reported.
SECTIONS = ("target", "exemplars", "agent", "llm")


class SettingsMismatch(ValueError):
    """A results folder holds a run made with other settings."""


@dataclass(frozen=True)
class RunSettings:
    """What a run's result depends on (see the module docstring)."""

    target: dict[str, Any]
    exemplars: dict[str, Any]
    agent: dict[str, Any]
    llm: dict[str, str]
    #: Defaults of the agent settings, for stored runs that predate a setting (not part of the identity).
    agent_defaults: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def compared(self) -> dict[str, Any]:
        """The settings as they are compared: the target's key fields, the rest as they are."""
        target = TargetIdentity.from_dict(self.target).key()
        return {"target": target, "exemplars": self.exemplars, "agent": self.agent, "llm": self.llm}

    @property
    def fingerprint(self) -> str:
        return settings_digest(self.compared())

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "target": self.target, "exemplars": self.exemplars,
                "agent": self.agent, "llm": self.llm}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSettings:
        return cls(
            target=dict(data.get("target") or {}),
            exemplars=dict(data.get("exemplars") or {}),
            agent=dict(data.get("agent") or {}),
            llm=dict(data.get("llm") or {}),
        )

    def differences(self, stored: RunSettings) -> list[str]:
        """What differs between a ``stored`` run's settings and these, as ``"what: stored -> now"`` phrases."""
        out: list[str] = []
        mine_target, their_target = TargetIdentity.from_dict(self.target), TargetIdentity.from_dict(stored.target)
        if not mine_target.same_as(their_target):
            out.append(f"target: {their_target.describe()} -> {mine_target.describe()}")
        if stored.exemplars != self.exemplars:
            out += _diff("exemplars", stored.exemplars, self.exemplars)
        agent = {**self.agent_defaults, **stored.agent} if self.agent_defaults else stored.agent
        if agent != self.agent:
            out += _diff("agent", agent, self.agent)
        if stored.llm != self.llm:
            out += _diff("llm", stored.llm, self.llm)
        return out


def _diff(section: str, old: dict[str, Any], new: dict[str, Any], limit: int = 4) -> list[str]:
    """``section.key: old -> new`` for each differing key (nested dicts flattened), at most ``limit``."""
    flat_old, flat_new = _flatten(old), _flatten(new)
    keys = [k for k in dict.fromkeys([*flat_old, *flat_new]) if flat_old.get(k, "-") != flat_new.get(k, "-")]
    out = [f"{section}.{k}: {_short(flat_old.get(k, '-'))} -> {_short(flat_new.get(k, '-'))}" for k in keys[:limit]]
    if len(keys) > limit:
        out.append(f"{len(keys) - limit} more in {section}")
    return out


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def run_settings(
    target: Any,
    llm: Any,
    config: Any,
    *,
    index: Any | None = None,
    feature_data: FeatureData | None = None,
) -> RunSettings:
    """The settings of a run of ``target`` with ``llm`` and ``config`` (an ``AgentConfig``) on exemplars from
    ``index`` (or the ``feature_data`` given instead)."""
    return RunSettings(
        target=target_identity(target).to_dict(),
        exemplars=exemplar_identity(index, feature_data),
        agent=config_settings(config),
        llm=llm_settings(llm, roles_of(config)),
        agent_defaults=config_settings(type(config)()) if dataclasses.is_dataclass(config) else {},
    )


def roles_of(config: Any) -> tuple[str, ...]:
    """The roles a run with ``config`` may call: the generalizer only when ``config.generalize`` is on."""
    return tuple(r for r in ROLES if r != "generalizer" or getattr(config, "generalize", False))


def llm_settings(llm: Any, roles: tuple[str, ...] = ROLES) -> dict[str, str]:
    """``role -> "backend:model"`` for each of ``roles`` (``backend_for(role)`` when the LLM routes roles)."""
    backend_for = getattr(llm, "backend_for", None)
    out = {}
    for role in roles:
        backend = backend_for(role) if callable(backend_for) else llm
        name = str(getattr(backend, "name", type(backend).__name__)).removeprefix("replay:")
        out[role] = f"{name}:{getattr(backend, 'model', '?')}"
    return out


def config_settings(config: Any) -> dict[str, Any]:
    """An ``AgentConfig`` as JSON-able settings: every field, bounds included; long text lists as a count and digest."""
    if not dataclasses.is_dataclass(config):
        return {"config": _jsonable(config)}
    return {f.name: _jsonable(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        items = [_jsonable(v) for v in value]
        if len(items) <= 8:
            return items
        text = json.dumps(items, sort_keys=True, default=str)
        return {"count": len(items), "digest": hashlib.sha256(text.encode()).hexdigest()[:12]}
    name, model = getattr(value, "name", None), getattr(value, "model", None)
    if isinstance(name, str) and isinstance(model, str):  # an LLM backend
        return f"{name.removeprefix('replay:')}:{model}"
    return type(value).__name__  # an object with no stable text form: its kind only


def exemplar_identity(index: Any | None, feature_data: FeatureData | None) -> dict[str, Any]:
    """What the run's exemplars came from: the index's :meth:`identity` (or its ``meta``), else a digest of the
    ``feature_data``'s top exemplars."""
    if index is not None:
        identity = getattr(index, "identity", None)
        if callable(identity):
            return dict(identity())
        meta = getattr(index, "meta", {}) or {}
        return {"corpus": meta.get("corpus"), "kind": type(index).__name__}
    if feature_data is not None:
        top = [[ex.tokens, ex.acts] for ex in feature_data.top]
        return {"feature_data": settings_digest([feature_data.index, feature_data.max_activation, top])}
    return {}
