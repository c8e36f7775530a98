"""Next-token logprobs at chosen points of a given assistant reply, from one llama.cpp forward pass.

A forced reading does not generate: the conversation is rendered with the model's chat template, the assistant
reply is given as ``segments``, and the model's distribution over the next token is read at the end of every
segment (teacher forcing). The simulation scorer uses it to read one activation per listed token, each right after
that token (see :mod:`sage_nb.evaluate.simulation`).

Each segment is tokenized on its own, so a reading point is always a token boundary. The tokens are decoded in
batches of ``n_batch`` on the backend's context, with logits kept only at the reading points; the tokens shared with
the previous prompt (the same system prompt and explanation) are not evaluated again.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from sage_nb.llm.base import Message, TokenLogprob
from sage_nb.llm.llamacpp_logprobs import top_k

#: The chat formatter of each loaded model, built (its template compiled) once.
_FORMATTERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _formatter(llm: Any) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    if llm not in _FORMATTERS:
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError("the model has no chat template in its GGUF metadata: forced readings need one")
        eos, bos = llm.token_eos(), llm.token_bos()
        _FORMATTERS[llm] = Jinja2ChatFormatter(
            template=template,
            eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
        )
    return _FORMATTERS[llm]


def chat_prompt(llm: Any, messages: Sequence[Message]) -> str:
    """``messages`` rendered by the model's own chat template, ending where the assistant's reply starts."""
    return _formatter(llm)(messages=list(messages)).prompt


def forced_tokens(llm: Any, prompt: str, segments: Sequence[str]) -> tuple[list[int], list[int]]:
    """The tokens of ``prompt`` followed by each segment (each tokenized alone), and the index of the last token of
    every segment (whose logits give the next-token distribution there)."""
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
    ends = []
    for segment in segments:
        tokens += llm.tokenize(segment.encode("utf-8"), add_bos=False, special=False)
        ends.append(len(tokens) - 1)
    return tokens, ends


def forced_logits(llm: Any, tokens: list[int], points: Sequence[int]) -> tuple[dict[int, np.ndarray], int]:
    """Decode ``tokens`` on ``llm``'s context; the logits after each token index in ``points``, and how many leading
    tokens were reused from what the context already held (never from the first point on)."""
    if len(tokens) > llm.n_ctx():
        raise ValueError(f"{len(tokens)} tokens do not fit the context of {llm.n_ctx()}")
    wanted = set(points)
    held = llm.input_ids[: llm.n_tokens].tolist()
    shared = 0
    for a, b in zip(held, tokens, strict=False):
        if a != b:
            break
        shared += 1
    shared = min(shared, min(wanted), len(tokens) - 1)
    llm.n_tokens = shared
    llm._ctx.kv_cache_seq_rm(-1, shared, -1)
    n_vocab, step = llm.n_vocab(), llm.n_batch
    out: dict[int, np.ndarray] = {}
    for start in range(shared, len(tokens), step):
        chunk = tokens[start : start + step]
        batch = llm._batch.batch
        batch.n_tokens = len(chunk)
        for i, token in enumerate(chunk):
            batch.token[i] = token
            batch.pos[i] = start + i
            batch.seq_id[i][0] = 0
            batch.n_seq_id[i] = 1
            batch.logits[i] = (start + i) in wanted
        llm._ctx.decode(llm._batch)
        for i in range(len(chunk)):
            if (start + i) in wanted:
                row = np.ctypeslib.as_array(llm._ctx.get_logits_ith(i), shape=(n_vocab,))
                out[start + i] = np.array(row, dtype=np.float64)
        llm.input_ids[start : start + len(chunk)] = chunk
        llm.n_tokens = start + len(chunk)
    return out, shared


def top_logprobs(llm: Any, logits: np.ndarray, k: int, always: Sequence[int] = ()) -> tuple[tuple[str, float], ...]:
    """The ``k`` most likely next tokens (text, logprob) best first, then the tokens of ``always`` not among them."""
    top, norm = top_k(logits, k)
    ids = [int(i) for i in top]
    ids += [int(i) for i in always if int(i) not in ids]
    out: dict[str, float] = {}
    for i in ids:
        out.setdefault(llm.detokenize([i]).decode("utf-8", errors="ignore"), float(logits[i] - norm))
    return tuple(out.items())


def read_forced(
    llm: Any, messages: Sequence[Message], segments: Sequence[str], k: int, always: Sequence[str] = ()
) -> tuple[list[TokenLogprob], int, int]:
    """One reading per segment: ``TokenLogprob(token="", logprob=0.0, top=...)`` with the top ``k`` next tokens and
    the first token of each string in ``always``; also the prompt's token count and how many were evaluated."""
    prompt = chat_prompt(llm, messages)
    tokens, ends = forced_tokens(llm, prompt, segments)
    extra = [t[0] for t in (llm.tokenize(s.encode("utf-8"), add_bos=False, special=False) for s in always) if t]
    logits, shared = forced_logits(llm, tokens, ends)
    readings = [TokenLogprob("", 0.0, top_logprobs(llm, logits[end], k, extra)) for end in ends]
    return readings, len(tokens), len(tokens) - shared
