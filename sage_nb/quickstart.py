"""The README's one-command demo: embedded model + shipped SAE, a mining pass, a few features printed."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from sage_nb.data.records import FeatureData


def feature_summary(fd: FeatureData, n_examples: int = 3) -> str:
    """A plain-text summary of a feature: scale, density, peak tokens, exemplars with the peak marked."""
    peaks = Counter(e.tokens[e.peak] for e in fd.top)
    lines = [
        f"feature {fd.index}: max activation {fd.max_activation:.2f}, fires on {fd.density:.3%} of tokens",
        "  peak tokens: " + ", ".join(f"{tok!r}×{n}" for tok, n in peaks.most_common(5)),
        "  promotes: " + ", ".join(repr(t) for t, _ in fd.promoted[:6]),
    ]
    for e in fd.top[:n_examples]:
        text = "".join(t if i != e.peak else f"[[{t}]]" for i, t in enumerate(e.tokens)).replace("\n", "↵")
        lines.append(f"  {e.max_act:6.2f}  {text}")
    return "\n".join(lines)


def run_quickstart(
    sae: str | None = None,
    model: str | None = None,
    device: str = "cpu",
    contexts: int = 600,
    features: str | None = None,
    html: str | None = None,
    seed: int = 0,
) -> list[FeatureData]:
    """Load the target, mine ``contexts`` corpus contexts, print (and optionally render) a few features."""
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import default_corpus
    from sage_nb.data.index import load_or_mine
    from sage_nb.targets import load_target

    target = load_target(model=model, sae=sae, device=device)
    print(target)
    corpus = default_corpus().split(held_out=False)
    ctx = corpus_contexts(corpus, target.tokenizer, max_contexts=contexts)
    index = load_or_mine(target, ctx, corpus.name)
    live = index.live_features()
    print(f"mined {index.n_tokens:,} tokens; {len(live):,} of {index.d_sae:,} features fired")
    if features:
        chosen = target.check_features([int(f) for f in features.split(",")])
    else:
        chosen = sorted(random.Random(seed).sample(live, min(3, len(live))))
    datas = [index.feature_data(target, f) for f in chosen]
    for fd in datas:
        print()
        print(feature_summary(fd))
    if html:
        from sage_nb.viz import feature_view

        body = "\n".join(feature_view(fd, include_bundle=i == 0).to_html() for i, fd in enumerate(datas))
        title = f"sage_nb quickstart: features {', '.join(map(str, chosen))} of {target.model_name}"
        page = f"<!doctype html><meta charset='utf-8'><title>{title}</title><body><h2>{title}</h2>{body}</body>"
        Path(html).write_text(page, encoding="utf-8")
        print(f"\nopen {Path(html).resolve()} in a browser to see these features (it works offline)")
    return datas
