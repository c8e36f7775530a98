"""Scoring explanations: a one-shot baseline explainer, scorers from the SAGE and SAEExplainer papers, reports."""
