"""Typed clients of each service, for the others: caller-side models, only the kit imported."""
