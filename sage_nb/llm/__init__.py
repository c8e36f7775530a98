"""The LLM layer: chat completions that return validated pydantic objects, with accounting, retries and replay.

>>> llm = make_llm("local")  # doctest: +SKIP
>>> result = llm.complete("Name a colour.", Colour, role="explainer", feature="f123")  # doctest: +SKIP
>>> result.ok, result.parsed, result.usage  # doctest: +SKIP

Backends live in :mod:`~sage_nb.llm.local_backend`, :mod:`~sage_nb.llm.openai_backend` and
:mod:`~sage_nb.llm.replay`; :func:`make_llm` picks one from a spec string.
"""

from sage_nb.llm.base import LLMBackend, LLMRequest, LLMResult, TokenLogprob
from sage_nb.llm.cache import CachedBackend
from sage_nb.llm.errors import LLMError, LLMRequestError, LLMUnavailable, ReplayMissing
from sage_nb.llm.factory import as_llm, make_llm
from sage_nb.llm.parsing import parse_reply
from sage_nb.llm.recorded import recorded_llm
from sage_nb.llm.retry import RetryPolicy
from sage_nb.llm.usage import DEFAULT_PRICES, Price, Usage, UsageTracker

__all__ = [
    "DEFAULT_PRICES",
    "CachedBackend",
    "LLMBackend",
    "LLMError",
    "LLMRequest",
    "LLMRequestError",
    "LLMResult",
    "LLMUnavailable",
    "Price",
    "ReplayMissing",
    "RetryPolicy",
    "TokenLogprob",
    "Usage",
    "UsageTracker",
    "as_llm",
    "make_llm",
    "parse_reply",
    "recorded_llm",
]
