"""Photos customers send, made fit to keep: upright, re-encoded from their pixels as JPEG, so the camera's
EXIF (place, time, device), comments and anything appended to the file are gone, and at most 1,600
pixels a side (enough for an agent to read a label)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from zhiwen.adapters.ocr import frames

MAX_SIDE = 1600
QUALITY = 85


class JpegPhotoCleaner:
    def clean(self, name: str, image: bytes) -> tuple[str, bytes]:
        bgr = next(frames(name, image, shrink=True))  # upright by its EXIF, transparency on white
        picture = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))
        picture.thumbnail((MAX_SIDE, MAX_SIDE))
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=QUALITY)
        return "image/jpeg", out.getvalue()
