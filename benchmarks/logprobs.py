"""Token logprobs under llama.cpp: the logits processor this package uses against llama-cpp-python's own path.

llama-cpp-python computes logprobs from a context that keeps the logits of every position (``logits_all``) and sorts
the whole vocabulary in Python at each generated token; the backend reads them from a logits processor on its
ordinary context instead (:mod:`sage_nb.llm.llamacpp_logprobs`). This times one simulation read (the scorer's
all-at-once prompt for a held-out window of the embedded target) both ways on the same model, alternating, and
checks that both give the same reply and logprobs. Run it alone; the last line is
``tap_s=<median s> logits_all_s=<median s> logprobs_speedup=<ratio> max_logprob_diff=<largest difference>``.

    python benchmarks/logprobs.py [--llm qwen2.5-coder-1.5b] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sage_nb.evaluate import prompts
from sage_nb.llm import LLMRequest, make_llm
from sage_nb.llm.llamacpp_backend import require_llama_cpp

#: A held-out-like window of Python source (the embedded corpus's kind of text), as the simulation scorer sends it.
WINDOW = (
    "    async def connect(self, host, port):\n        reader, writer = await asyncio.open_connection(host, port)\n"
    "        self._streams.append((reader, writer))\n        return await self._handshake(reader, writer)\n"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llm", default="qwen2.5-coder-1.5b", help="an embedded model name or a .gguf path")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    llm = make_llm(f"llamacpp:{args.llm}")
    tokens = llm.load().tokenize(WINDOW.encode(), add_bos=False)
    pieces = [llm.load().detokenize([t]).decode("utf-8", errors="ignore") for t in tokens]
    n = len(pieces)
    request = LLMRequest(
        prompts.simulation_messages("Fires on 'await' in Python code.", pieces), prompts.simulation_schema(n),
        role="simulation", temperature=0.0, seed=0, max_tokens=prompts.simulation_reply_tokens(n), logprobs=5,
    )  # fmt: skip
    reference = require_llama_cpp().Llama(model_path=str(llm.path), n_ctx=llm.n_ctx, n_threads=llm.n_threads,
                                          logits_all=True, verbose=False)  # fmt: skip
    messages = llm._render(request)
    grammar = llm.grammar(request.schema)
    ours, theirs, out, result = [], [], None, None
    for _ in range(args.repeats):
        llm.close()  # no KV cache carried over between timings: each read evaluates its whole prompt
        start = time.perf_counter()
        result = llm.run(request)
        ours.append(time.perf_counter() - start)
        reference.reset()
        start = time.perf_counter()
        out = reference.create_chat_completion(messages=messages, grammar=grammar, max_tokens=request.max_tokens,
                                               temperature=0.0, logprobs=True, top_logprobs=5)  # fmt: skip
        theirs.append(time.perf_counter() - start)
    assert result is not None and out is not None and result.ok and result.logprobs
    content = out["choices"][0]["logprobs"]["content"]
    same = out["choices"][0]["message"]["content"] == result.raw_text and len(content) == len(result.logprobs)
    diff = max(abs(a.logprob - b["logprob"]) for a, b in zip(result.logprobs, content, strict=False))
    tap, full = statistics.median(ours), statistics.median(theirs)
    print(f"{n} tokens simulated, {len(result.logprobs)} reply tokens, same reply: {same}")
    print(f"tap_s={tap:.2f} logits_all_s={full:.2f} logprobs_speedup={full / tap:.2f} max_logprob_diff={diff:.4f}")


if __name__ == "__main__":
    main()
