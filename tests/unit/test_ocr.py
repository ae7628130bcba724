"""Scans and photos become searchable text: the real PP-OCRv5 model on the CPU, real images and PDFs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.files import pdf
from zhiwen.adapters.ocr import PaddleOcr, reading_order
from zhiwen.types import Workspace
from zhiwen.wiring import Services

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # fonts-noto-cjk, installed by .ci/run
LABEL = ["极光数码扫地机器人 R7", "整机保修一年，电池保修六个月。", "Error E3: clean the brush and restart."]


def _scan(
    lines: list[str], rotate: float = 0.0, noise: float = 0.0, size: tuple[int, int] = (1000, 260)
) -> Image.Image:
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(FONT, 30)
    for number, line in enumerate(lines):
        draw.text((40, 30 + number * 70), line, fill="black", font=font)
    page = page.rotate(rotate, expand=True, fillcolor="white")
    if noise:
        pixels = np.asarray(page).astype(np.int16) + np.random.default_rng(0).normal(
            0, noise, (page.height, page.width, 3)
        )
        page = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return page


def _bytes(image: Image.Image, format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


class CountingOcr:
    """The real OCR, counting the images it was given."""

    def __init__(self, ocr: PaddleOcr) -> None:
        self.ocr, self.calls = ocr, 0

    def read(self, name: str, image: bytes) -> str:
        self.calls += 1
        return self.ocr.read(name, image)


def test_a_photo_of_a_label_is_ingested_as_its_text_and_found(
    services: Services, workspace: Workspace
) -> None:
    photo = _bytes(_scan(LABEL, 1.5, 10), "JPEG", quality=92)
    result = services.ingest.ingest_bytes(workspace.id, "r7-label.jpg", photo)
    assert result.status == "added", result.error
    (chunk,) = services.documents.document_chunks(workspace.id, result.document_id)
    assert (
        "整机保修一年，电池保修六个月。" in chunk.text
        and "Error E3: clean the brush and restart." in chunk.text
    )
    assert chunk.text.index("整机保修") < chunk.text.index("Error E3")  # in reading order
    hits = services.retriever.retrieve(workspace.id, "电池保修多久", k=1).hits
    assert hits and hits[0].chunk.document_id == result.document_id


def test_a_scanned_pdf_is_read_page_by_page_and_a_text_pdf_is_never_ocred(
    services: Services, tmp_path: object
) -> None:
    workspace = services.workspaces.create_workspace("scans")
    counting = CountingOcr(PaddleOcr(services.settings.data_dir / "cache" / "ocr"))
    ingest = type(services.ingest)(
        services.documents,
        services.keywords,
        services.vectors,
        max_chars=600,
        max_bytes=10_000_000,
        ocr=counting,
    )
    pages = [
        _scan(LABEL[:2], 2.0, 15, (1000, 400)),
        _scan(["退货须知", "签收后七天内可以无理由退货。"], -1.5, 15, (1000, 400)),
    ]
    scanned = _bytes(pages[0], "PDF", save_all=True, append_images=pages[1:], resolution=150)
    result = ingest.ingest_bytes(workspace.id, "scanned-manual.pdf", scanned)
    assert result.status == "added", result.error
    assert "scanned-manual.pdf: 2 scanned page(s) read by OCR" in result.warnings
    text = "\n".join(c.text for c in services.documents.document_chunks(workspace.id, result.document_id))
    assert "签收后七天内可以无理由退货。" in text and "电池保修六个月" in text
    assert counting.calls == 2

    typed = ingest.ingest_bytes(workspace.id, "typed.pdf", pdf("# 保修\n\n整机保修一年。"))
    assert typed.status == "added" and counting.calls == 2  # its text layer is read; no page went to OCR


@pytest.mark.parametrize(
    ("name", "data", "code", "message"),
    [
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt_file", "not a readable image"),
        ("notes.jpg", "这不是图片".encode("gbk"), "corrupt_file", "not a readable image"),
        (
            "blank.png",
            _bytes(Image.new("RGB", (600, 400), "white"), "PNG"),
            "empty_document",
            "by OCR either",
        ),
        (
            "huge.png",
            _bytes(Image.new("1", (9000, 5000), 1), "PNG"),
            "too_large",
            "over the 40,000,000-pixel limit",
        ),
        ("empty.webp", b"", "empty_document", "the file is empty"),
    ],
)
def test_images_that_cannot_be_read_are_refused_by_name_and_nothing_is_stored(
    services: Services, workspace: Workspace, name: str, data: bytes, code: str, message: str
) -> None:
    result = services.ingest.ingest_bytes(workspace.id, name, data)
    assert result.status == "failed" and result.error_code == code and message in (result.error or "")
    assert name in (result.error or "")
    assert services.documents.count_documents(workspace.id) == 0


def test_reading_order_joins_boxes_of_a_line_left_to_right() -> None:
    box = lambda x, y: [[x, y], [x + 80, y], [x + 80, y + 30], [x, y + 30]]  # noqa: E731
    found = [
        (box(200, 102), "R7"),
        (box(10, 100), "扫地机器人"),
        (box(10, 160), "Error"),
        (box(100, 158), "E3"),
    ]
    assert reading_order(found) == "扫地机器人R7\nError E3"
