"""What every chart shares: the Agg backend (no display on a server), fonts that draw Chinese where a CJK
font is installed, a plain style, and PNG bytes out."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure

__all__ = ["plt", "png", "style"]


@cache
def _fonts() -> list[str]:
    """DejaVu for Latin, then the first installed CJK font (fonts-noto-cjk on Debian) for Chinese names."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [
        name
        for name in ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei")
        if name in installed
    ]
    return ["DejaVu Sans", *cjk[:1]]


@contextmanager
def style() -> Iterator[None]:
    with (
        plt.rc_context({"font.family": _fonts(), "axes.spines.top": False, "axes.spines.right": False}),
        warnings.catch_warnings(),
    ):
        # Without a CJK font Chinese names draw as boxes; the chart is still worth having.
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        yield


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
