"""Peak resident memory of the README quickstart (embedded model + SAE, mining, three features), cold:
an empty cache folder, so the GGUF dequantisation, the corpus tokenisation and the mining pass all happen.

Prints, on its last line, ``quickstart_peak_gb=<x>`` (goal <= 2.5).
"""

from __future__ import annotations

import os
import resource
import tempfile


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SAGE_NB_CACHE"] = tmp
        from sage_nb.quickstart import run_quickstart

        run_quickstart(html=f"{tmp}/features.html")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"quickstart_peak_gb={peak_kb / 1024 / 1024:.2f}")


if __name__ == "__main__":
    main()
