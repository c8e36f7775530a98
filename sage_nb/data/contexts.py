"""Corpus texts cut into fixed-length token contexts, cached on disk.

Every context starts with the model's BOS token (masked when mining and training: the first position's
residual norm is an outlier) followed by ``context_tokens - 1`` tokens of documents packed end to end
with the tokenizer's end-of-text token between them. Fixed lengths mean no padding anywhere.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from sage_nb.config import CONTEXT_TOKENS, cache_dir
from sage_nb.data.corpus import Corpus


def bos_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The token id put in front of every text (BOS, else EOS)."""
    tid = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if tid is None:
        raise ValueError("The tokenizer has neither a BOS nor an EOS token to start contexts with")
    return int(tid)


def _separator_id(tokenizer: PreTrainedTokenizerBase) -> int:
    for tok in ("<|endoftext|>", tokenizer.eos_token):
        if tok is not None and tok in tokenizer.get_vocab():
            return int(tokenizer.convert_tokens_to_ids(tok))
    return bos_id(tokenizer)


def _tokenizer_key(tokenizer: PreTrainedTokenizerBase) -> str:
    vocab = tokenizer.get_vocab()
    blob = json.dumps(sorted(vocab.items())[:: max(1, len(vocab) // 4096)]) + str(len(vocab))
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def corpus_contexts(
    corpus: Corpus,
    tokenizer: PreTrainedTokenizerBase,
    context_tokens: int = CONTEXT_TOKENS,
    max_contexts: int | None = None,
    use_cache: bool = True,
) -> np.ndarray:
    """Token contexts ``[n, context_tokens]`` (int32) of a corpus, tokenised once and cached.

    ``max_contexts`` takes the first n contexts of a stable shuffle, so a small budget still sees
    every kind of document.
    """
    if context_tokens < 8:
        raise ValueError("context_tokens must be at least 8")
    path = cache_dir() / "contexts" / f"{corpus.name}-{_tokenizer_key(tokenizer)}-{context_tokens}.npy"
    if use_cache and path.exists():
        contexts = np.load(path)
    else:
        sep = _separator_id(tokenizer)
        stream: list[int] = []
        for doc in tqdm(corpus.documents, desc=f"tokenising {corpus.name}", leave=False):
            stream.extend(tokenizer(doc.text, add_special_tokens=False).input_ids)
            stream.append(sep)
        body = context_tokens - 1
        n = len(stream) // body
        if n == 0:
            raise ValueError(f"Corpus {corpus.name!r} has fewer than {body} tokens")
        arr = np.asarray(stream[: n * body], dtype=np.int32).reshape(n, body)
        contexts = np.concatenate([np.full((n, 1), bos_id(tokenizer), dtype=np.int32), arr], axis=1)
        if use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".partial.npy")
            np.save(tmp, contexts)
            tmp.rename(path)
    if max_contexts is not None and max_contexts < len(contexts):
        order = np.random.default_rng(0).permutation(len(contexts))[:max_contexts]
        contexts = contexts[np.sort(order)]
    return contexts
