"""Implementations of the Embedder and LLM ports."""
