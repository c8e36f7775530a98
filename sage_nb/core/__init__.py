"""The bottom layer: records, text helpers, file writing, secrets and declared interfaces that every other layer
may import. Nothing here imports another ``sage_nb`` package (see docs/architecture.md)."""
