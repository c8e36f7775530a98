"""What a target is, as a record that results and indexes carry, so that one made for another target is refused.

A :class:`TargetIdentity` names the model, the hook and the SAE. Two targets are the same when their
:meth:`~TargetIdentity.key` is: the model, the hook, the number of features and the SAE's *key* — ``release/sae_id``
for a sae-lens release, a digest of the files for an SAE folder (so a folder retrained in place is another SAE,
and a copy elsewhere is the same one), the label for planted features (it holds their version, and a digest of their
names) and for Neuronpedia sources. The label and path are kept for people to read, not compared.

>>> target_identity(target).describe()  # doctest: +SKIP
"SAE 'smollm2-135m-l8-topk' (files a1b2c3d4e5f6) on smollm2-135m-instruct at blocks.8.hook_resid_post"

Duck-typed on the target's ``model_name``, ``sae_source``, ``hook`` and ``d_sae``, so the data layer needs no
import from the targets.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Bytes read from the start and from the end of each weights file for its digest (a retrained SAE differs there).
DIGEST_SPAN = 1 << 20


@dataclass(frozen=True)
class TargetIdentity:
    """The model, hook and SAE of a target (see the module docstring for what is compared)."""

    model: str
    hook: str
    sae: str  # the SAE's label, for people
    sae_key: str  # what identifies the SAE's weights
    d_sae: int | None = None
    sae_path: str | None = None  # where its files were read, for people

    def key(self) -> dict[str, Any]:
        """The fields that decide whether two targets are the same."""
        return {"model": self.model, "hook": self.hook, "sae_key": self.sae_key, "d_sae": self.d_sae}

    def same_as(self, other: TargetIdentity) -> bool:
        return self.key() == other.key()

    def describe(self) -> str:
        """One phrase naming the SAE (with its path or key), the model and the hook."""
        where = f" at {self.sae_path}" if self.sae_path else ""
        key = f" ({self.sae_key})" if self.sae_key != self.sae else ""
        return f"SAE {self.sae!r}{where}{key} on {self.model} at {self.hook}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetIdentity:
        return cls(**{k: data.get(k) for k in ("model", "hook", "sae", "sae_key", "d_sae", "sae_path")})


def target_identity(target: Any) -> TargetIdentity:
    """The identity of a target (:class:`~sage_nb.targets.Target`, a planted or a Neuronpedia target)."""
    source = target.sae_source
    label = str(getattr(source, "label", source))
    path = getattr(source, "path", None)
    release, sae_id = getattr(source, "release", None), getattr(source, "sae_id", None)
    if path is not None:
        key = f"files:{folder_digest(Path(path))}"
    elif release is not None:
        key = f"sae-lens:{release}/{sae_id}"
    else:
        key = label
        names = [getattr(f, "name", None) for f in getattr(target, "features", None) or []]
        if names and all(isinstance(n, str) for n in names):  # planted features: which ones, in which order
            key += ":" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
    d_sae = getattr(target, "d_sae", None)
    return TargetIdentity(
        model=str(target.model_name),
        hook=str(getattr(target.hook, "name", target.hook)),
        sae=label,
        sae_key=key,
        d_sae=int(d_sae) if d_sae is not None else None,
        sae_path=str(Path(path).resolve()) if path is not None else None,
    )


def folder_digest(folder: Path) -> str:
    """A short digest of an SAE folder: its ``cfg.json`` and the size, start and end of each weights file."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and (p.name == "cfg.json" or p.suffix == ".safetensors"))
    stamps = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _digest(stamps)


@lru_cache(maxsize=64)
def _digest(stamps: tuple[tuple[str, int, int], ...]) -> str:
    """Digest of the files in ``stamps`` (cached by path, size and modification time)."""
    h = hashlib.sha256()
    for path, size, _ in stamps:
        p = Path(path)
        h.update(f"{p.name}:{size}\n".encode())
        with p.open("rb") as f:
            if p.name == "cfg.json" or size <= 2 * DIGEST_SPAN:
                h.update(f.read())
            else:
                h.update(f.read(DIGEST_SPAN))
                f.seek(size - DIGEST_SPAN)
                h.update(f.read(DIGEST_SPAN))
    return h.hexdigest()[:12]


def contexts_digest(contexts: Any) -> str:
    """A short digest of mined token contexts (an ``[n, seq]`` array)."""
    return hashlib.sha256(contexts.tobytes() + str(contexts.shape).encode()).hexdigest()[:12]


def settings_digest(data: Any) -> str:
    """A short, stable digest of JSON-able settings."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
