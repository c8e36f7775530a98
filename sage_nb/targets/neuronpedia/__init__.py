"""Neuronpedia mode: explain and evaluate features of SAEs hosted on Neuronpedia, through its HTTP API.

- :mod:`~sage_nb.targets.neuronpedia.client`: a read-only client (an allow-list of two requests), with a disk cache,
  retries with backoff and an hourly budget for activation calls; the key comes from ``$NEURONPEDIA_API_KEY``.
- :mod:`~sage_nb.targets.neuronpedia.records`: the server's JSON as typed records.
- :mod:`~sage_nb.targets.neuronpedia.exemplars`: stored activations laid out as a feature index.
- :mod:`~sage_nb.targets.neuronpedia.target`: :class:`NeuronpediaTarget`, measured like any other target.

>>> target = load_neuronpedia_target("neuronpedia://gemma-2-2b/20-gemmascope-res-16k")  # doctest: +SKIP
>>> state = explain(target, 10956, llm, feature_data=target.feature_data(10956))  # doctest: +SKIP
"""

from sage_nb.targets.neuronpedia.cache import ResponseCache, default_cache_dir
from sage_nb.targets.neuronpedia.client import (
    ACTIVATION_CALLS_PER_HOUR,
    DEFAULT_URL,
    KEY_ENV,
    URL_ENV,
    NeuronpediaClient,
)
from sage_nb.targets.neuronpedia.errors import (
    NeuronpediaAuthError,
    NeuronpediaError,
    NeuronpediaNotFound,
    NeuronpediaRateLimited,
    NeuronpediaRequestError,
    NeuronpediaUnavailable,
    ReadOnlyViolation,
)
from sage_nb.targets.neuronpedia.exemplars import NeuronpediaIndex
from sage_nb.targets.neuronpedia.records import FeatureRecord, StoredActivation, StoredExplanation
from sage_nb.targets.neuronpedia.target import (
    NEURONPEDIA_SCHEME,
    NeuronpediaTarget,
    load_neuronpedia_target,
    parse_neuronpedia_spec,
)

__all__ = [
    "ACTIVATION_CALLS_PER_HOUR",
    "DEFAULT_URL",
    "KEY_ENV",
    "NEURONPEDIA_SCHEME",
    "URL_ENV",
    "FeatureRecord",
    "NeuronpediaAuthError",
    "NeuronpediaClient",
    "NeuronpediaError",
    "NeuronpediaIndex",
    "NeuronpediaNotFound",
    "NeuronpediaRateLimited",
    "NeuronpediaRequestError",
    "NeuronpediaTarget",
    "NeuronpediaUnavailable",
    "ReadOnlyViolation",
    "ResponseCache",
    "StoredActivation",
    "StoredExplanation",
    "default_cache_dir",
    "load_neuronpedia_target",
    "parse_neuronpedia_spec",
]
