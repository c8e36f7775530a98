"""A local transformers chat model with schema-constrained decoding (the offline default).

Each role's JSON schema is compiled once into an xgrammar grammar (cached per schema) that masks the logits at
every step, so a reply is always JSON of the schema's shape, unless it runs out of ``max_tokens`` (bound string
lengths and list sizes in small-model schemas: ``Field(max_length=...)``). Logprobs are the log-softmax of the
scores that were sampled from, i.e. after the grammar mask (and temperature): the alternatives at a position are the
tokens the schema allows there. :meth:`LocalBackend.complete_many` batches requests that share a schema and sampling
parameters into one ``generate`` call; single calls from several threads take turns on the model.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import torch
from pydantic import BaseModel

from sage_nb.config import DEFAULT_MODEL
from sage_nb.llm.base import LLMBackend, LLMRequest, LLMResult, Message, Reply, TokenLogprob
from sage_nb.llm.parsing import json_schema
from sage_nb.llm.usage import Usage, UsageTracker

#: The embedded target model doubles as the offline chat model.
DEFAULT_LOCAL_MODEL = DEFAULT_MODEL
#: ``max_new_tokens`` when a request leaves ``max_tokens`` unset.
DEFAULT_LOCAL_MAX_TOKENS = 256


class LocalBackend(LLMBackend):
    """Chat completions from a transformers causal LM with a chat template, constrained by xgrammar."""

    name = "local"
    # The grammar guarantees JSON of the schema's shape; a failure can only be truncation, which a repair turn
    # with the same token budget would not fix.
    repair_turns = 0

    def __init__(
        self,
        model_name: str = DEFAULT_LOCAL_MODEL,
        *,
        model: Any | None = None,
        tokenizer: Any | None = None,
        device: str = "cpu",
        batch_size: int = 8,
        default_max_tokens: int = DEFAULT_LOCAL_MAX_TOKENS,
        schema_in_prompt: bool = True,
        tracker: UsageTracker | None = None,
        recorder: Any | None = None,
    ) -> None:
        super().__init__(model_name, tracker=tracker, recorder=recorder, max_workers=1)
        if (model is None) != (tokenizer is None):
            raise ValueError("pass both model and tokenizer, or neither")
        self._model = model
        self._tok = tokenizer
        self.device = device
        self.batch_size = batch_size
        self.default_max_tokens = default_max_tokens
        self.schema_in_prompt = schema_in_prompt
        self._compiler: Any = None
        self._grammars: dict[str, Any] = {}
        self._load_lock = threading.Lock()
        self._grammar_lock = threading.Lock()

    # ----- model and grammars -----

    def load(self) -> None:
        """Load the model, tokenizer and grammar compiler (done lazily by the first call)."""
        with self._load_lock:
            if self._compiler is not None:
                return
            import xgrammar

            if self._model is None:
                from sage_nb.targets.models import load_hf_model

                self._model, self._tok = load_hf_model(self.model, device=self.device)
            if getattr(self._tok, "chat_template", None) is None:
                raise ValueError(f"{self.model} has no chat template; the local backend needs a chat model")
            head = self._model.get_output_embeddings()
            vocab = head.weight.shape[0] if head is not None else self._model.config.vocab_size
            info = xgrammar.TokenizerInfo.from_huggingface(self._tok, vocab_size=vocab)
            self._compiler = xgrammar.GrammarCompiler(info)

    def compiled_grammar(self, schema: type[BaseModel]) -> Any:
        """The xgrammar grammar of ``schema`` (compiled once per distinct JSON schema)."""
        self.load()
        key = json.dumps(json_schema(schema))  # property order matters: the grammar keeps it
        with self._grammar_lock:
            grammar = self._grammars.get(key)
            if grammar is None:
                grammar = self._compiler.compile_json_schema(key, any_whitespace=False)
                self._grammars[key] = grammar
            return grammar

    @property
    def _pad_id(self) -> int:
        tok = self._tok
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        return int(pad if pad is not None else 0)

    def _prompt_ids(self, messages: list[Message]) -> list[int]:
        encoded = self._tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
        return list(encoded["input_ids"])

    def _stop_ids(self) -> set[int]:
        ids = self._model.generation_config.eos_token_id
        if ids is None:
            ids = self._tok.eos_token_id
        return set(ids if isinstance(ids, list) else [ids])

    # ----- generation -----

    def _generate(self, conversations: list[list[Message]], request: LLMRequest[Any]) -> list[Reply]:
        """One constrained ``generate`` call for a batch of conversations that share ``request``'s parameters."""
        import xgrammar

        grammar = self.compiled_grammar(request.schema)
        prompts = [self._prompt_ids(c) for c in conversations]
        pad = self._pad_id
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids) :] = 1
        sampling = request.temperature is not None and request.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": request.max_tokens if request.max_tokens is not None else self.default_max_tokens,
            "do_sample": sampling,
            "pad_token_id": pad,
            "logits_processor": [xgrammar.contrib.hf.LogitsProcessor(grammar)],
            "return_dict_in_generate": True,
            "output_scores": bool(request.logprobs),
        }
        if sampling:
            kwargs.update(temperature=float(request.temperature), top_p=1.0, top_k=0)
        device = self._model.device
        seeded = torch.random.fork_rng(devices=[]) if request.seed is not None else contextlib.nullcontext()
        with self._lock, torch.no_grad(), seeded:
            if request.seed is not None:
                torch.manual_seed(request.seed)
            start = time.perf_counter()
            out = self._model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs)
            generation_s = time.perf_counter() - start
        generated = out.sequences[:, width:].cpu()
        stops = self._stop_ids()
        replies = []
        for row, ids in enumerate(prompts):
            tokens = generated[row].tolist()
            length = next((i for i, t in enumerate(tokens) if t in stops), None)
            finished = length is not None
            length = len(tokens) if length is None else length
            logprobs = self._logprobs(out.scores, row, tokens[:length], request.logprobs) if request.logprobs else None
            replies.append(
                Reply(
                    text=self._tok.decode(tokens[:length]),
                    usage=Usage(prompt_tokens=len(ids), completion_tokens=length + int(finished)),
                    finish_reason="stop" if finished else "length",
                    logprobs=logprobs,
                    generation_s=generation_s / len(prompts),
                )
            )
        return replies

    def _logprobs(self, scores: Sequence[torch.Tensor], row: int, tokens: list[int], k: int) -> list[TokenLogprob]:
        out = []
        for step, token in enumerate(tokens):
            logp = torch.log_softmax(scores[step][row].float(), dim=-1)
            values, indices = logp.topk(k)
            top = tuple(
                (self._tok.decode([int(i)]), float(v))
                for v, i in zip(values, indices, strict=True)
                if torch.isfinite(v)
            )
            out.append(TokenLogprob(self._tok.decode([token]), float(logp[token]), top))
        return out

    def _turn(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:
        return self._generate([messages], request)[0]

    # ----- batching -----

    def complete_many(
        self,
        requests: Sequence[LLMRequest[Any]],
        *,
        max_workers: int | None = None,
        raise_unavailable: bool = True,
    ) -> list[LLMResult[Any]]:
        """Run requests in batches of ``batch_size`` (grouped by schema and sampling parameters), in input order.

        ``latency_s`` of a batched result is its batch's wall time; ``generation_s`` its share of the batch's
        ``generate`` time. ``max_workers`` and ``raise_unavailable`` are accepted for interface compatibility (a
        local model is never unavailable).
        """
        requests = list(requests)
        if self.repair_turns > 0:
            return super().complete_many(requests, max_workers=max_workers, raise_unavailable=raise_unavailable)
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index, r in enumerate(requests):
            key = (json.dumps(json_schema(r.schema)), r.temperature, r.seed, r.max_tokens, r.logprobs)
            groups.setdefault(key, []).append(index)
        results: list[LLMResult[Any] | None] = [None] * len(requests)
        for indices in groups.values():
            for chunk_start in range(0, len(indices), self.batch_size):
                chunk = indices[chunk_start : chunk_start + self.batch_size]
                start = time.perf_counter()
                replies = self._generate([self._render(requests[i]) for i in chunk], requests[chunk[0]])
                wall = time.perf_counter() - start
                for i, reply in zip(chunk, replies, strict=True):
                    result = self._result(requests[i], [reply], self._parse(reply, requests[i]))
                    result.latency_s = wall
                    self._account(requests[i], result)
                    results[i] = result
        return [r for r in results if r is not None]
