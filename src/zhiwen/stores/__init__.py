"""Storage backends. ``sqlite`` is the embedded default."""
