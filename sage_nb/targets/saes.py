"""Loading SAEs: the one shipped in this package, a local SAELens directory, or a sae-lens release.

Accepted specs:
- a shipped name (``"smollm2-135m-l8-topk"``, see :func:`shipped_saes`);
- a local directory holding ``cfg.json`` + ``sae_weights.safetensors`` (``SAE.save_model`` layout);
- ``"sae-lens://release=gemma-scope-2b-pt-res-canonical;sae_id=layer_0/width_16k/canonical"``;
- a tuple ``(release, sae_id)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from sae_lens import SAE

from sage_nb.targets.hooks import HookPoint

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "saes"


@dataclass(frozen=True)
class SAESource:
    """Where an SAE came from, as a short label and (for releases) the release and id."""

    label: str
    release: str | None = None
    sae_id: str | None = None
    path: Path | None = None


def shipped_saes() -> list[str]:
    """Names of the SAEs that ship inside this package."""
    return sorted(p.name for p in ASSETS.iterdir() if (p / "cfg.json").exists()) if ASSETS.exists() else []


def parse_sae_spec(spec: str | Path | tuple[str, str]) -> SAESource:
    """Turn a user's SAE spec into an :class:`SAESource` (raises ``ValueError`` for a malformed spec)."""
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ValueError("An SAE release spec is a (release, sae_id) pair")
        return SAESource(f"{spec[0]}/{spec[1]}", release=spec[0], sae_id=spec[1])
    text = str(spec)
    if text.startswith("sae-lens://"):
        parts = dict(p.split("=", 1) for p in text[len("sae-lens://") :].split(";") if "=" in p)
        if "release" not in parts or "sae_id" not in parts:
            raise ValueError(f"Malformed SAE spec {text!r}: expected 'sae-lens://release=...;sae_id=...'")
        return SAESource(f"{parts['release']}/{parts['sae_id']}", release=parts["release"], sae_id=parts["sae_id"])
    if (ASSETS / text / "cfg.json").exists():
        return SAESource(text, path=ASSETS / text)
    path = Path(text).expanduser()
    if (path / "cfg.json").exists():
        return SAESource(path.name, path=path)
    shipped = shipped_saes()
    hint = f" Shipped SAEs: {shipped}." if shipped else " No SAE ships in this install (run `sage-nb train-sae`)."
    raise FileNotFoundError(
        f"No SAE found for {text!r}: not a shipped name, a SAELens directory, or a sae-lens:// spec.{hint}"
    )


def load_sae(spec: str | Path | tuple[str, str], device: str | torch.device = "cpu") -> tuple[SAE, SAESource]:
    """Load an SAE (float32 unless the config asks for bf16/fp16 on an accelerator) and say where it came from."""
    source = parse_sae_spec(spec)
    if source.path is not None:
        check_config(source.path / "cfg.json")
    dtype = "float32" if torch.device(device).type == "cpu" else None
    if source.path is not None:
        sae = SAE.load_from_disk(str(source.path), device=str(device), **({"dtype": dtype} if dtype else {}))
    else:
        try:
            sae = SAE.from_pretrained(source.release, source.sae_id, device=str(device))
        except Exception as err:  # the hub is unreachable offline; say what to pre-download
            raise OSError(
                f"Could not load SAE {source.label}: {err}. Offline, download it once while online "
                f"(SAE.from_pretrained({source.release!r}, {source.sae_id!r}) fills the HF cache) "
                "or save it with sae.save_model(dir) and pass that directory."
            ) from err
        if isinstance(sae, tuple):  # older sae-lens returned (sae, cfg, sparsity)
            sae = sae[0]
        if dtype:
            sae = sae.to(dtype=torch.float32)
    check_normalisation(sae, source)
    sae.eval()
    return sae, source


def check_config(path: Path) -> None:
    """Raise ValueError naming ``path`` when an SAE folder's ``cfg.json`` is not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}): repair it, or write the SAE again (sae.save_model(dir) or "
            "sage-nb train-sae --out DIR)"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, not the SAE's config object: write it again")


def check_normalisation(sae: SAE, source: SAESource) -> None:
    """Raise ValueError for an SAE that expects inputs scaled by a factor its files do not hold.

    ``sae.encode`` applies the per-token normalisations itself (``constant_norm_rescale``, ``layer_norm``), and
    sae-lens folds a release's known ``expected_average_only_in`` factor into the weights on load; an SAE still
    marked ``expected_average_only_in`` after loading would read unscaled activations without a word.
    """
    if getattr(sae.cfg, "normalize_activations", "none") == "expected_average_only_in":
        raise ValueError(
            f"SAE {source.label} expects its inputs scaled by a dataset-wide norm factor that its files do not hold "
            "(normalize_activations='expected_average_only_in'); fold the factor in with "
            "sae.fold_activation_norm_scaling_factor(factor), save it with sae.save_model(dir) and load that directory"
        )


def sae_hook(sae: SAE) -> HookPoint:
    """The hook point an SAE was trained on, from its metadata (never assumed)."""
    name = getattr(sae.cfg.metadata, "hook_name", None)
    if not name:
        raise ValueError("This SAE's config has no metadata.hook_name; cannot tell where it reads the model")
    return HookPoint.parse(name)


def sae_model_name(sae: SAE) -> str | None:
    """The model an SAE was trained on, from its metadata (may be None)."""
    return getattr(sae.cfg.metadata, "model_name", None)
