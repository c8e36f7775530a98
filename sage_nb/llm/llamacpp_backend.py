"""Chat completions from a GGUF model under llama.cpp (``llama-cpp-python``): the offline engine.

Every call decodes under a grammar compiled from the role's JSON schema (one grammar per schema, reused), so a
reply always has the schema's shape unless it runs out of ``max_tokens``. Calls share one llama.cpp context and run
one at a time; llama.cpp keeps the previous prompt's KV cache and evaluates only the tokens after the longest common
prefix, so consecutive calls of one role (same system prompt, same evidence block) skip most of their prefill. The
skipped tokens are reported as ``usage.cached_tokens``.

Token logprobs are those of the model's distribution before the grammar mask (the transformers engine reports them
after it): at a position where the grammar allows only digits, the alternatives may include other tokens, and the
chosen token is added when it is not among the top ``k``. Readers of logprobs keep the alternatives they can use and
renormalise (see :mod:`sage_nb.evaluate.simulation`). They are read at each sampling step by a logits processor
(:mod:`sage_nb.llm.llamacpp_logprobs`) on the same context, not from llama-cpp-python's ``logits_all`` context,
which costs memory and sorts the whole vocabulary in Python at every token. A request with ``forced`` segments is
read, not generated (:mod:`sage_nb.llm.llamacpp_forced`): one pass over the given reply, logits kept only where
they are read.

Threads: llama.cpp's threads spin while they wait, so two busy processes with two threads each slow each other
several-fold. :func:`default_threads` uses the cores not already busy (``SAGE_NB_LLM_THREADS`` overrides it).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from sage_nb.llm.base import ForcedReading, LLMBackend, LLMRequest, Message, Reply
from sage_nb.llm.embedded import ModelSize, model_size, resolve_gguf
from sage_nb.llm.errors import LLMRequestError
from sage_nb.llm.llamacpp_forced import read_forced
from sage_nb.llm.llamacpp_logprobs import LogitsTap
from sage_nb.llm.parsing import json_schema
from sage_nb.llm.usage import Usage, UsageTracker

#: The llama-cpp-python release this package is built and tested with (compiled from source on Linux).
LLAMA_CPP_REQUIREMENT = "llama-cpp-python==0.3.36"
#: ``max_tokens`` when a request leaves it unset.
DEFAULT_MAX_TOKENS = 512
#: Next tokens a forced reading always reports (with the top ``k``): the numbers 0-10 a simulator reads.
FORCED_ALWAYS = tuple(str(i) for i in range(11))
#: Environment variable that sets the thread count.
THREADS_ENV = "SAGE_NB_LLM_THREADS"


#: Largest integer range written out as an enum for the grammar (llama.cpp's converter ignores minimum/maximum).
MAX_ENUM_RANGE = 1000


def grammar_schema(schema: Any) -> Any:
    """``schema`` with every integer bounded on both sides (``minimum``/``maximum``, exclusive forms too) rewritten
    as an ``enum`` of its values: llama-cpp-python's JSON-schema-to-grammar converter ignores integer bounds, and
    pydantic would then reject an out-of-range number that the grammar allowed. Other keywords are kept."""
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: grammar_schema(value) for key, value in schema.items()}
    if out.get("type") == "integer" and "enum" not in out:
        low = out.get("minimum", out["exclusiveMinimum"] + 1 if "exclusiveMinimum" in out else None)
        high = out.get("maximum", out["exclusiveMaximum"] - 1 if "exclusiveMaximum" in out else None)
        if low is not None and high is not None and 0 <= high - low <= MAX_ENUM_RANGE:
            for key in ("type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                out.pop(key, None)
            out["enum"] = list(range(int(low), int(high) + 1))
    return out


#: JSON's string characters as llama-cpp-python's converter writes them, which lets raw control characters through
#: (a newline inside a string is not JSON), and as JSON allows them.
_GBNF_CHAR = 'char ::= [^"\\\\]'
_GBNF_JSON_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F]'


def json_gbnf(schema: dict[str, Any]) -> str:
    """The GBNF grammar of a JSON schema (see :func:`grammar_schema`), whose strings hold no raw control characters."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    text = json_schema_to_gbnf(json.dumps(grammar_schema(schema)))
    return "\n".join(_GBNF_JSON_CHAR + line[len(_GBNF_CHAR) :] if line.startswith(_GBNF_CHAR) else line
                     for line in text.splitlines())  # fmt: skip


def default_threads() -> int:
    """Threads for llama.cpp: ``$SAGE_NB_LLM_THREADS``, else the usable cores minus those busy (1-min load), >= 1."""
    env = os.environ.get(THREADS_ENV)
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a whole number of threads, got {env!r}") from None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = int(os.getloadavg()[0] + 0.5) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, cores - busy))


def require_llama_cpp() -> Any:
    """Import ``llama_cpp``; ImportError naming the install command when it is missing."""
    try:
        import llama_cpp
    except ImportError:
        raise ImportError(
            f'the llama.cpp engine is not installed: run `pip install "{LLAMA_CPP_REQUIREMENT}"` (it compiles '
            "llama.cpp, ~15 min on 2 cores) or `bash scripts/setup.sh`"
        ) from None
    return llama_cpp


def llama_cpp_available() -> bool:
    """Whether ``llama_cpp`` can be imported."""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


@dataclass
class Timings:
    """Where a backend's time went, per role: prompt tokens evaluated (not cached) and their time, generation."""

    calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    prefill_tokens: int = 0
    prefill_s: float = 0.0
    generated_tokens: int = 0
    generation_s: float = 0.0
    wall_s: float = 0.0

    def add(self, other: Timings) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Perf:
    by_role: dict[str, Timings] = field(default_factory=dict)

    def add(self, role: str, t: Timings) -> None:
        self.by_role.setdefault(role, Timings()).add(t)


class LlamaCppBackend(LLMBackend):
    """Schema-constrained chat completions from a GGUF model (an embedded model's name or a ``.gguf`` path)."""

    name = "llamacpp"
    # The grammar guarantees the schema's shape; a failure can only be truncation, which a repair turn with the same
    # token budget would not fix.
    repair_turns = 0
    reads_forced = True

    def __init__(
        self,
        model: str = "smollm2-135m",
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        n_batch: int = 512,
        batch_size: int = 1,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        schema_in_prompt: bool = True,
        size: ModelSize | None = None,
        device: str = "cpu",
        verbose: bool = False,
        tracker: UsageTracker | None = None,
        recorder: Any | None = None,
    ) -> None:
        require_llama_cpp()
        name, path = resolve_gguf(model)
        super().__init__(name, tracker=tracker, recorder=recorder, max_workers=1)
        self.path = path
        self.size: ModelSize | None = size or model_size(name) or model_size(str(path))
        from sage_nb.llm.embedded import EMBEDDED_LLMS

        default_ctx = EMBEDDED_LLMS[name].n_ctx if name in EMBEDDED_LLMS else 4096
        self.n_ctx = n_ctx or default_ctx
        self.n_threads = n_threads or default_threads()
        self.n_batch = n_batch
        #: Requests decode one at a time on one llama.cpp context; ``batch_size`` is taken so that a setting written
        #: for the transformers engine (which batches requests) also runs here.
        self.batch_size = batch_size
        self.default_max_tokens = default_max_tokens
        self.schema_in_prompt = schema_in_prompt
        self.verbose = verbose
        #: Layers offloaded to a GPU: all of them for a GPU device (when llama.cpp was built with GPU support).
        self.n_gpu_layers = 0 if device == "cpu" else -1
        self.perf = _Perf()
        self._llm: Any = None
        self._grammars: dict[str, Any] = {}
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LlamaCppBackend(model={self.model!r}, n_threads={self.n_threads}, n_ctx={self.n_ctx})"

    # ----- model and grammars -----

    def load(self) -> Any:
        """Open the model (done lazily by the first call); returns the ``llama_cpp.Llama``."""
        with self._load_lock:
            if self._llm is None:
                self._llm = require_llama_cpp().Llama(
                    model_path=str(self.path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    n_batch=self.n_batch,
                    n_gpu_layers=self.n_gpu_layers,
                    verbose=self.verbose,
                )
            return self._llm

    def grammar(self, schema: type[BaseModel]) -> Any:
        """The llama.cpp grammar of ``schema`` (built once per distinct JSON schema)."""
        key = json.dumps(json_schema(schema))
        with self._load_lock:
            found = self._grammars.get(key)
            if found is None:
                from llama_cpp import LlamaGrammar

                found = LlamaGrammar.from_string(json_gbnf(json_schema(schema)), verbose=False)
                self._grammars[key] = found
            return found

    # ----- one turn -----

    def _turn(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:
        if request.forced is not None:
            return self._read(messages, request)
        llama_cpp = require_llama_cpp()
        llm = self.load()
        grammar = self.grammar(request.schema)
        temperature = float(request.temperature or 0.0)
        kwargs: dict[str, Any] = {
            "messages": messages,
            "grammar": grammar,
            "max_tokens": request.max_tokens if request.max_tokens is not None else self.default_max_tokens,
            "temperature": temperature,
            "seed": request.seed if request.seed is not None else 0,
        }
        if temperature > 0:  # plain sampling at that temperature, as the other backends do
            kwargs.update(top_p=1.0, top_k=0, min_p=0.0)
        tap = LogitsTap(int(request.logprobs)) if request.logprobs else None
        if tap is not None:
            kwargs["logits_processor"] = [tap]
        with self._lock:
            llama_cpp.llama_perf_context_reset(llm.ctx)
            start = time.perf_counter()
            try:
                out = llm.create_chat_completion(**kwargs)
            except ValueError as err:
                if "exceed context window" in str(err):
                    raise LLMRequestError(
                        f"the prompt does not fit {self.model}'s context ({err}); pass n_ctx= to make_llm, e.g. "
                        f"make_llm('llamacpp:{self.model}', n_ctx={2 * llm.n_ctx()}), or shorten the prompt"
                    ) from None
                raise
            choice = out["choices"][0]
            text = choice["message"].get("content") or ""
            logprobs = tap.logprobs(llm, text) if tap is not None else None
            wall = time.perf_counter() - start
            perf = llama_cpp.llama_perf_context(llm.ctx)
        usage_body = out.get("usage") or {}
        prompt_tokens = int(usage_body.get("prompt_tokens", 0))
        completion_tokens = int(usage_body.get("completion_tokens", 0))
        evaluated = int(perf.n_p_eval)
        timing = Timings(
            calls=1,
            prompt_tokens=prompt_tokens,
            cached_tokens=max(0, prompt_tokens - evaluated),
            prefill_tokens=evaluated,
            prefill_s=perf.t_p_eval_ms / 1000.0,
            generated_tokens=int(perf.n_eval),
            generation_s=perf.t_eval_ms / 1000.0,
            wall_s=wall,
        )
        self.perf.add(request.role, timing)
        notes = []
        if request.logprobs and logprobs is None:
            notes.append("logprobs were requested but the sampled tokens could not be matched with the reply")
        return Reply(
            text=text,
            usage=Usage(prompt_tokens, completion_tokens, timing.cached_tokens),
            finish_reason=choice.get("finish_reason"),
            logprobs=logprobs,
            notes=notes,
            generation_s=wall,
        )

    def _read(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:
        """A forced reading (see :mod:`sage_nb.llm.llamacpp_forced`): no token is generated."""
        llm = self.load()
        assert request.forced is not None
        with self._lock:
            start = time.perf_counter()
            try:
                readings, prompt_tokens, evaluated = read_forced(
                    llm, messages, request.forced, int(request.logprobs or 1), FORCED_ALWAYS
                )
            except ValueError as err:
                raise LLMRequestError(
                    f"forced reading failed on {self.model}: {err}; pass a larger n_ctx= to make_llm or shorten the "
                    "text"
                ) from None
            wall = time.perf_counter() - start
        timing = Timings(calls=1, prompt_tokens=prompt_tokens, cached_tokens=prompt_tokens - evaluated,
                         prefill_tokens=evaluated, prefill_s=wall, wall_s=wall)  # fmt: skip
        self.perf.add(request.role, timing)
        return Reply(
            text=ForcedReading(readings=len(readings)).model_dump_json(),
            usage=Usage(prompt_tokens, 0, timing.cached_tokens),
            finish_reason="forced",
            logprobs=readings,
            generation_s=wall,
        )

    def close(self) -> None:
        """Free the llama.cpp contexts (the backend reopens them on its next call)."""
        with self._load_lock:
            if self._llm is not None:
                self._llm.close()
            self._llm = None
