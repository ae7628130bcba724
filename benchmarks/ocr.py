"""OCR of a scanned manual: character accuracy and pages per second through the real ingestion pipeline.

The scan is generated: pages of the demo knowledge base's Markdown (Chinese and English) are drawn at
150 dpi with a CJK font, turned by a small random angle, given sensor noise and saved as JPEG pages of a
PDF, as a cheap office scanner would. Character accuracy is 1 − (edit distance / reference length)
over each page's characters with whitespace removed (OCR drops spaces between Chinese and Latin text;
search does not need them).

    python -m benchmarks.ocr [--pages 20] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from benchmarks.common import machine
from zhiwen.adapters.ocr import PaddleOcr
from zhiwen.config import Settings
from zhiwen.wiring import build_services

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
DOCS = Path(__file__).resolve().parents[1] / "src" / "zhiwen" / "sample_kb" / "docs"
LINE_CHARS = {"zh": 34, "en": 62}


def _lines(pages: int, seed: int) -> list[list[str]]:
    """``pages`` pages of 24 lines each, from the demo's Markdown, with its markup removed."""
    text: list[str] = []
    for path in sorted(DOCS.glob("*.md")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = re.sub(r"[#*`>|_\[\]]", "", raw).strip()
            if len(line) < 4:
                continue
            width = LINE_CHARS["zh" if re.search(r"[\u4e00-\u9fff]", line) else "en"]
            text += [line[i : i + width].strip() for i in range(0, len(line), width)]
    random.Random(seed).shuffle(text)
    return [text[i * 24 : (i + 1) * 24] for i in range(pages)]


def _scan(lines: list[str], rng: np.random.Generator, dpi: int) -> Image.Image:
    """An A4 page at ``dpi``: 10.8-point text (30 px at 150 dpi), turned, with sensor noise."""
    scale = dpi / 150
    size = (round(1240 * scale), round(1754 * scale))
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(FONT, round(30 * scale))
    for number, line in enumerate(lines):
        draw.text((round(90 * scale), round((110 + number * 64) * scale)), line, fill="black", font=font)
    page = page.rotate(float(rng.uniform(-1.5, 1.5)), fillcolor="white", resample=Image.Resampling.BICUBIC)
    pixels = np.asarray(page).astype(np.int16) + rng.normal(0, 10, (size[1], size[0], 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dpi", type=int, default=150, help="150 (a cheap scan) or 300 (an office scanner)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    pages = _lines(args.pages, args.seed)
    images = [_scan(lines, rng, args.dpi) for lines in pages]
    out = io.BytesIO()
    images[0].save(
        out, format="PDF", save_all=True, append_images=images[1:], resolution=args.dpi, quality=85
    )

    with tempfile.TemporaryDirectory() as folder:
        services = build_services(Settings(data_dir=Path(folder), worker="thread"))
        workspace = services.workspaces.create_workspace("scans")
        ocr = PaddleOcr(Path(folder) / "cache" / "ocr")
        ocr.read("warm-up.png", _jpeg(images[0]))  # the model's load is not a page's time
        accuracies, ocr_seconds = [], 0.0
        for lines, image in zip(pages, images, strict=True):
            started = time.perf_counter()
            found = ocr.read("page.jpg", _jpeg(image))
            ocr_seconds += time.perf_counter() - started
            reference = re.sub(r"\s", "", "".join(lines))
            accuracies.append(1 - _distance(reference, re.sub(r"\s", "", found)) / len(reference))
        services.ingest.ingest_bytes(workspace.id, "warm-up.jpg", _jpeg(images[0]))
        started = time.perf_counter()
        result = services.ingest.ingest_bytes(workspace.id, "scanned-manual.pdf", out.getvalue())
        seconds = time.perf_counter() - started
        services.close()

    report = {
        "machine": machine(),
        "pages": args.pages,
        "dpi": args.dpi,
        "pdf_bytes": len(out.getvalue()),
        "status": result.status,
        "ingest_seconds": round(seconds, 1),
        "ingest_seconds_per_page": round(seconds / args.pages, 2),
        "ocr_seconds_per_page": round(ocr_seconds / args.pages, 2),
        "character_accuracy": round(float(np.mean(accuracies)), 4),
        "worst_page_accuracy": round(min(accuracies), 4),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(
        f"OCR of a {args.pages}-page scanned PDF at {args.dpi} dpi ({report['pdf_bytes'] / 1e6:.1f} MB);"
        f" {report['machine']}"
    )
    print(f"  OCR alone: {report['ocr_seconds_per_page']} s per page")
    print(f"  ingested ({result.status}) in {seconds:.1f} s: {report['ingest_seconds_per_page']} s per page")
    print(
        f"  character accuracy {report['character_accuracy']:.4f}"
        f" (worst page {report['worst_page_accuracy']:.4f})"
    )


def _jpeg(image: Image.Image) -> bytes:
    """A page as the scanner stores it (the PDF's pages are JPEG at the same quality)."""
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


if __name__ == "__main__":
    main()
