"""nbval runs the notebooks in this folder in CI, offline on a CPU. Templates for real models need a GPU or the
Neuronpedia API, the internet and an API key, so they are left out here; tests/test_notebooks.py checks them
statically (they parse, and every name they import exists)."""

#: Notebooks nbval does not collect (they are stored without outputs).
collect_ignore = ["gemma_scope_feature.ipynb"]
