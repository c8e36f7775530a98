"""``explain`` and ``explain_features``: run the SAGE loop on features of a target, with results on disk.

A results folder is reused only by a run with the same settings (see :mod:`sage_nb.agent.results` for the rule and
:mod:`sage_nb.agent.settings` for what they are); ``overwrite=True`` replaces a run made with other settings. A run
that ends with no working LLM raises :class:`~sage_nb.llm.errors.LLMUnavailable` and leaves ``failure.json``, so the
next run tries the feature again.
"""

from __future__ import annotations

import operator
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sage_nb.agent.loop import AgentConfig, SageLoop, StepCallback
from sage_nb.agent.records import RunState
from sage_nb.agent.results import FAILURE_FILE, RunFolder, llm_failure, run_dir
from sage_nb.agent.settings import RunSettings, run_settings
from sage_nb.core.records import Candidate
from sage_nb.data.records import ExemplarSource, FeatureData
from sage_nb.explainers.base import ExplainError
from sage_nb.llm.base import LLMBackend
from sage_nb.llm.errors import LLMError, LLMUnavailable
from sage_nb.llm.factory import as_llm

if TYPE_CHECKING:  # the protocol only types arguments; importing it would load torch
    from sage_nb.targets.base import FeatureTarget


def target_layer(target: Any) -> int | str:
    """The layer a target's SAE reads (``planted`` for planted features)."""
    layer = getattr(target, "layer", None)
    return layer if layer is not None else str(getattr(target.hook, "name", "unknown"))


def parse_features(spec: str | Sequence[int | str], target: Any) -> list[int]:
    """Feature indices of ``target`` from a spec, validated by ``target.check_features`` (duplicates dropped).

    ``spec`` is ``"100,101"``, the original SAGE form ``"layer8=100,101"`` (several ``layerN=`` groups may be
    joined by ``;``; each layer must be the one the SAE reads, see :func:`target_layer`), or a list of indices.
    A planted target (anything with a ``feature(name)`` lookup) also takes names: ``"weekday,digit"``.

    >>> parse_features("layer8=100,101; layer8=7", target)  # doctest: +SKIP
    [100, 101, 7]

    Raises ValueError for a malformed spec or another layer, IndexError for an unknown index and, for a planted
    target, KeyError for an unknown name.
    """
    if isinstance(spec, str):
        items: list[int | str] = []
        for group in spec.split(";"):
            head, eq, rest = group.partition("=")
            if eq:
                _check_layer(head.strip(), target)
                group = rest
            items += [item.strip() for item in group.split(",") if item.strip()]
    else:
        items = list(spec)
    features = [_feature_index(item, target) for item in items]
    return list(dict.fromkeys(target.check_features(features)))


def _check_layer(head: str, target: Any) -> None:
    """Raise ValueError unless ``head`` (``layer8``) names the layer ``target``'s SAE reads."""
    match = re.fullmatch(r"layer_?(\S+)", head, flags=re.IGNORECASE)
    if match is None:
        raise ValueError(f"expected 'layerN=F1,F2' in a feature spec, got {head!r} before '='")
    layer = target_layer(target)
    if match.group(1) != str(layer):
        raise ValueError(
            f"features of layer {match.group(1)} were asked for, but the SAE reads layer {layer}: "
            f"use 'layer{layer}=...' or plain indices"
        )


def _feature_index(item: int | str, target: Any) -> Any:
    """One spec item as a feature index: an integer as it is, a name through a planted target's lookup."""
    if not isinstance(item, str):
        return item
    try:
        return int(item)
    except ValueError:
        pass
    lookup = getattr(target, "feature", None)
    if lookup is None:
        raise ValueError(f"{item!r} is not a feature index (feature names exist only on planted targets)")
    return lookup(item).index


def one_feature(feature: Any, target: Any) -> int:
    """``feature`` as one validated index of ``target``: an int (NumPy integers too) or, for a planted target, a
    name. Raises TypeError for several features or a non-index, IndexError for an unknown index."""
    if isinstance(feature, str):
        return int(_feature_index(feature.strip(), target))
    if isinstance(feature, bool) or not hasattr(feature, "__index__"):
        several = isinstance(feature, list | tuple | set | range) or hasattr(feature, "__len__")
        if several:
            raise TypeError(
                f"explain() takes one feature, got {feature!r}: use explain_features(target, features, ...) for several"
            )
        raise TypeError(f"a feature is an integer index, got {type(feature).__name__} {feature!r}")
    (index,) = target.check_features([operator.index(feature)])
    return int(index)


def feature_folder(
    output_dir: str | Path, llm: LLMBackend, target: Any, feature: int, settings: RunSettings | None = None
) -> RunFolder:
    """The results folder of ``feature`` for this LLM and target, with the run's metadata and ``settings``."""
    layer = target_layer(target)
    meta = {
        "agent_llm": llm.model,
        "agent_backend": llm.name,
        "target_llm": target.model_name,
        "sae": getattr(target.sae_source, "label", str(target.sae_source)),
        "hook": getattr(target.hook, "name", None),
        "layer": layer,
        "feature": feature,
    }
    return RunFolder(run_dir(output_dir, llm.model, target.model_name, layer, feature), meta, settings)


def _feature_data(
    target: Any, feature: int, index: Any | None, feature_data: FeatureData | None, k: int
) -> FeatureData:
    if feature_data is not None:
        if feature_data.index != feature:
            raise ValueError(f"feature_data is for feature {feature_data.index}, not {feature}")
        return feature_data
    if index is None:
        raise ValueError("pass index= (a mined FeatureIndex, see load_or_mine) or feature_data= for the exemplars")
    return index.feature_data(target, feature, k=k)


def explain(
    target: FeatureTarget,
    feature: int,
    llm: LLMBackend | str = "local",
    *,
    index: ExemplarSource | None = None,
    feature_data: FeatureData | None = None,
    output_dir: str | Path | None = None,
    config: AgentConfig | None = None,
    on_step: StepCallback | None = None,
    resume: bool = True,
    progress: bool = False,
    overwrite: bool = False,
) -> RunState:
    """Run the SAGE loop on one feature and return its final :class:`RunState`.

    Exemplars come from ``feature_data`` or a mined ``index`` (which must have been mined from ``target``). With
    ``output_dir`` the run is checkpointed after every step and its results written in the SAGE layout; a
    checkpoint there is resumed (``resume=False`` starts over) and a finished run returned, when its settings are
    this run's; otherwise :class:`~sage_nb.agent.settings.SettingsMismatch` is raised, unless ``overwrite=True``
    replaces it. ``on_step(state)`` is called after every step.

    Raises :class:`~sage_nb.llm.errors.LLMUnavailable` when the run ended without a working LLM (every call failed
    to reach one); the LLM layer's errors propagate. Either way ``failure.json`` is left in the folder.
    """
    feature = one_feature(feature, target)
    config = config or AgentConfig()
    llm = as_llm(llm)
    fd = _feature_data(target, feature, index, feature_data, max(config.top_k, 10))
    folder, state = None, None
    if output_dir is not None:
        given = feature_data is not None
        settings = run_settings(target, llm, config, index=None if given else index, feature_data=fd if given else None)
        folder = feature_folder(output_dir, llm, target, feature, settings)
        folder.prepare(overwrite=overwrite)
        state = folder.load() if resume else None
        if state is not None and state.done and llm_failure(state) is not None:
            state = None  # a run from before failures were told apart from results: try it again
        if state is not None and not state.done:
            print(
                f"feature {feature}: resuming from the checkpoint in {folder.path} after {len(state.turns)} turns "
                f"(next step: {state.phase})",
                file=sys.stderr,
            )
    loop = SageLoop(
        target, fd, llm, config, state=state, save=folder.save if folder is not None else None, on_step=on_step
    )
    try:
        state = loop.run(progress=progress)
    except LLMError as err:
        if folder is not None:
            folder.write_failure(feature, f"{type(err).__name__}: {err}", outcome="llm_unavailable")
        raise
    failure = llm_failure(state)
    if failure is not None:
        where = f" (recorded in {folder.path / FAILURE_FILE}; the next run tries it again)" if folder else ""
        raise LLMUnavailable(f"feature {feature}: the run ended without a working LLM: {failure}{where}")
    return state


def explain_features(
    target: FeatureTarget,
    features: Sequence[int],
    llm: LLMBackend | str = "local",
    *,
    index: Any,
    output_dir: str | Path,
    config: AgentConfig | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> list[RunState]:
    """Explain several features into ``output_dir``; finished ones are loaded, interrupted ones resumed (both only
    when made with these settings: see :func:`explain`, which also explains ``overwrite``)."""
    features = [one_feature(f, target) for f in features]
    config = config or AgentConfig()
    llm = as_llm(llm)
    settings = run_settings(target, llm, config, index=index)
    states = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(features), desc="features", unit="feature")
    try:
        for feature in features:
            folder = feature_folder(output_dir, llm, target, feature, settings)
            folder.check(overwrite=overwrite)
            state = finished_run(folder)
            if state is None:
                state = explain(
                    target, feature, llm, index=index, output_dir=output_dir, config=config, overwrite=overwrite
                )
            states.append(state)
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()  # before any error is printed, so that the error is the last line
    return states


def finished_run(folder: RunFolder) -> RunState | None:
    """The finished run in ``folder`` (None when there is none, or it ended without a working LLM)."""
    state = folder.load() if folder.finished else None
    if state is None or not state.done or llm_failure(state) is not None:
        return None
    return state


class SageExplainer:
    """The SAGE loop as an :class:`~sage_nb.explainers.Explainer`: one feature's data in, one candidate out.

    >>> SageExplainer(target, "local-capable").explain(index.feature_data(target, 123))  # doctest: +SKIP

    With ``output_dir`` every run is checkpointed and kept (see :func:`explain`); a run that ends without an
    explanation comes back as an :class:`~sage_nb.explainers.ExplainError` naming why.
    """

    name = "sage"

    def __init__(
        self,
        target: FeatureTarget,
        llm: LLMBackend | str | Mapping[str, str] = "local",
        config: AgentConfig | None = None,
        output_dir: str | Path | None = None,
    ) -> None:
        self.target = target
        self.llm = as_llm(llm)
        self.config = config
        self.output_dir = output_dir

    def __repr__(self) -> str:
        return f"SageExplainer(llm={self.llm!r}, output_dir={self.output_dir!r})"

    def explain(self, feature_data: FeatureData) -> Candidate:
        """Run the loop on the feature of ``feature_data``; its explanation as a candidate named 'sage'."""
        state = explain(
            self.target, feature_data.index, self.llm, feature_data=feature_data, config=self.config,
            output_dir=self.output_dir,
        )  # fmt: skip
        if state.explanation is None:
            raise ExplainError(feature_data.index, state.stop_reason or "the run wrote no explanation", self.name)
        return Candidate.from_run(state, self.name)

    def explain_many(self, features: Sequence[FeatureData]) -> list[Candidate | ExplainError]:
        """One candidate (or the error) per feature, in order."""
        out: list[Candidate | ExplainError] = []
        for feature_data in features:
            try:
                out.append(self.explain(feature_data))
            except ExplainError as err:
                out.append(err)
        return out


def load_run(path: str | Path) -> RunState:
    """A run's state from its folder (or its ``state.json``)."""
    path = Path(path)
    folder = RunFolder(path.parent if path.name.endswith(".json") else path)
    state = folder.load()
    if state is None:
        raise FileNotFoundError(f"no {folder.state_path.name} in {folder.path}")
    return state
