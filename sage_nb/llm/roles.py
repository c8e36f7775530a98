"""Give each role of the agent (and each scorer) its own LLM: a :class:`RoleRouter` sends a call to the backend of
its ``role`` tag.

>>> llm = make_llm({"explainer": "llamacpp:qwen2.5-coder-1.5b", "synthesis": "llamacpp:qwen2.5-coder-1.5b",
...                 "default": "llamacpp:smollm2-135m"})  # doctest: +SKIP

The same as a spec string (groups joined by ``;``, the last group without ``=`` is the default)::

    "explainer,synthesis=llamacpp:qwen2.5-coder-1.5b;llamacpp:smollm2-135m"
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sage_nb.llm.base import LLMBackend, LLMRequest, LLMResult, Message, Reply

#: Roles of the SAGE loop and the readers of the scorers, as the ``role`` tags of their calls.
AGENT_ROLES = ("explainer", "generalizer", "designer", "analyzer", "reviewer", "synthesis")
#: Key of the backend that answers every role not named.
DEFAULT_ROLE = "default"
_ROLE_GROUP = re.compile(r"^\s*([a-z_]+(?:\s*,\s*[a-z_]+)*)\s*=(.+)$")


def parse_role_spec(spec: str) -> dict[str, str] | None:
    """``{"explainer": SPEC, ..., "default": SPEC}`` from a role spec string, or None when ``spec`` names no role.

    Raises ValueError when a group names a role twice or the default is missing.
    """
    groups = [g for g in spec.split(";") if g.strip()]
    if not any(_is_role_group(g) for g in groups):
        return None
    out: dict[str, str] = {}
    for group in groups:
        match = _ROLE_GROUP.match(group) if _is_role_group(group) else None
        roles, value = (match.group(1).split(","), match.group(2)) if match else ([DEFAULT_ROLE], group)
        for role in (r.strip() for r in roles):
            if role in out:
                raise ValueError(f"role {role!r} is given two LLMs in {spec!r}")
            out[role] = value.strip()
    if DEFAULT_ROLE not in out:
        raise ValueError(
            f"a role spec needs a default LLM for the other roles, e.g. '{spec};llamacpp:smollm2-135m' (got {spec!r})"
        )
    return out


def _is_role_group(group: str) -> bool:
    match = _ROLE_GROUP.match(group)
    return match is not None and all(r.strip() in KNOWN_ROLES for r in match.group(1).split(","))


#: Role tags a spec may name (the agent's roles, the scorers' readers, the baseline and the SAEExplainer's calls).
KNOWN_ROLES = frozenset(
    {*AGENT_ROLES, DEFAULT_ROLE, "baseline", "simulator", "generator", "detector", "reader", "teacher", "scorer"}
)


def check_roles(roles: Mapping[str, object]) -> None:
    """ValueError unless ``roles`` has a default and names only known roles."""
    unknown = sorted(set(roles) - KNOWN_ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; known roles: {', '.join(sorted(KNOWN_ROLES))}")
    if DEFAULT_ROLE not in roles:
        raise ValueError(f"per-role LLMs need a {DEFAULT_ROLE!r} entry for the roles not named")


class RoleRouter(LLMBackend):
    """An :class:`LLMBackend` that answers each call with the backend of the call's role (or the default one)."""

    name = "roles"

    def __init__(self, backends: Mapping[str, LLMBackend]) -> None:
        check_roles(backends)
        self.backends = dict(backends)
        default = self.backends[DEFAULT_ROLE]
        super().__init__(self._label(), tracker=default.tracker, recorder=None, max_workers=default.max_workers)

    def _label(self) -> str:
        models: dict[str, list[str]] = {}
        for role, backend in self.backends.items():
            models.setdefault(backend.model, []).append(role)
        return "+".join(models)

    def __repr__(self) -> str:
        roles = ", ".join(f"{r}={b.name}:{b.model}" for r, b in self.backends.items())
        return f"RoleRouter({roles})"

    def backend_for(self, role: str) -> LLMBackend:
        return self.backends.get(role, self.backends[DEFAULT_ROLE])

    def identity(self) -> dict[str, str]:
        return {role: f"{b.name}:{b.model}" for role, b in sorted(self.backends.items())}

    def run(self, request: LLMRequest[Any]) -> LLMResult[Any]:
        return self.backend_for(request.role).run(request)

    def complete_many(
        self,
        requests: Sequence[LLMRequest[Any]],
        *,
        max_workers: int | None = None,
        raise_unavailable: bool = True,
    ) -> list[LLMResult[Any]]:
        """Each role's requests go to its backend (in one batch per backend); results in the order of ``requests``."""
        requests = list(requests)
        groups: dict[int, list[int]] = {}
        owners: dict[int, LLMBackend] = {}
        for i, r in enumerate(requests):
            backend = self.backend_for(r.role)
            groups.setdefault(id(backend), []).append(i)
            owners[id(backend)] = backend
        results: list[LLMResult[Any] | None] = [None] * len(requests)
        for key, indices in groups.items():
            got = owners[key].complete_many(
                [requests[i] for i in indices], max_workers=max_workers, raise_unavailable=raise_unavailable
            )
            for i, result in zip(indices, got, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    def _turn(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:  # pragma: no cover - unused
        raise NotImplementedError("RoleRouter delegates whole calls to its backends")
