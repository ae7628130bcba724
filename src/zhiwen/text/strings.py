"""Strings inside parsed JSON: one walk for whoever must rewrite them (redaction, erasure)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any


def map_strings(value: Any, change: Callable[[str], str], keep: Collection[str] = ()) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with ``change`` applied to every string in
    it, except the values of the keys in ``keep``."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list | tuple):
        return [map_strings(v, change, keep) for v in value]
    if isinstance(value, dict):
        return {k: v if k in keep else map_strings(v, change, keep) for k, v in value.items()}
    return value
