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

    def read(self, name: str, image: bytes, shrink: bool = False) -> str:
        self.calls += 1
        return self.ocr.read(name, image, shrink)


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


def _huge_png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size it never delivers: refused from its header, before any decoding."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)  # a row's start; the rest is never there
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


BAD_IMAGES = {
    "broken.png": (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt_file", "not a readable image"),
    "notes.jpg": (lambda: "这不是图片".encode("gbk"), "corrupt_file", "not a readable image"),
    "truncated.jpg": (lambda: _bytes(_scan(LABEL), "JPEG")[:3000], "corrupt_file", "not a readable image"),
    "label.png": (
        lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
        "corrupt_file",
        "not a readable",
    ),
    "blank.png": (
        lambda: _bytes(Image.new("RGB", (600, 400), "white"), "PNG"),
        "empty_document",
        "by OCR either",
    ),
    "huge.png": (
        lambda: _bytes(Image.new("1", (9000, 5000), 1), "PNG"),
        "too_large",
        "40,000,000-pixel limit",
    ),
    "bomb.png": (lambda: _huge_png_header(20000, 20000), "too_large", "too many pixels"),
    "empty.webp": (lambda: b"", "empty_document", "the file is empty"),
}


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_images_that_cannot_be_read_are_refused_by_name_and_nothing_is_stored(
    services: Services, workspace: Workspace, name: str
) -> None:
    make, code, message = BAD_IMAGES[name]
    result = services.ingest.ingest_bytes(workspace.id, name, make())
    assert result.status == "failed" and result.error_code == code and message in (result.error or "")
    assert name in (result.error or "")
    assert services.documents.count_documents(workspace.id) == 0


def test_phone_photos_are_read_upright_and_transparent_or_odd_images_on_white(
    services: Services, workspace: Workspace
) -> None:
    def label(name: str) -> Image.Image:  # each file its own line: identical passages are stored once
        return _scan([*LABEL[:2], f"File {name} of the test"], size=(1000, 260))

    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90° clockwise to view": how a phone held upright stores its photo
    clear = label("clear.png")
    transparent = Image.new("RGBA", clear.size, (0, 0, 0, 0))
    transparent.paste(clear.convert("RGBA"), mask=clear.convert("L").point(lambda v: 255 - v))
    deep = np.asarray(label("deep.png").convert("L")).astype(np.uint16) * 257
    files = {
        "upright.jpg": _bytes(label("upright.jpg").rotate(90, expand=True), "JPEG", quality=95, exif=exif),
        "clear.png": _bytes(transparent, "PNG"),
        "grey.png": _bytes(label("grey.png").convert("L"), "PNG"),
        "deep.png": _bytes(Image.fromarray(deep), "PNG"),
        "palette.png": _bytes(label("palette.png").convert("P"), "PNG"),
        "fax.tiff": _bytes(
            label("fax.tiff"), "TIFF", save_all=True, append_images=[_scan(["签收后七天内可以无理由退货。"])]
        ),
    }
    for name, data in files.items():
        result = services.ingest.ingest_bytes(workspace.id, name, data)
        assert result.status == "added", (name, result.error)
        text = "".join(c.text for c in services.documents.document_chunks(workspace.id, result.document_id))
        assert "电池保修六个月" in text and f"File {name} of the test" in text, (name, text)
    fax = services.documents.find_document(workspace.id, "fax.tiff")
    assert fax is not None  # its second page too
    assert "无理由退货" in "".join(c.text for c in services.documents.document_chunks(workspace.id, fax.id))


def test_a_scanned_page_that_cannot_be_read_is_named_and_the_rest_of_the_pdf_is_kept(
    services: Services, workspace: Workspace
) -> None:
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    pages = [
        _scan(LABEL[:2], 0, 0, (1000, 400)),
        _scan(["退货须知", "签收后七天内可以无理由退货。"], 0, 0, (1000, 400)),
    ]
    scanned = PdfReader(io.BytesIO(_bytes(pages[0], "PDF", save_all=True, append_images=pages[1:])))
    writer = PdfWriter(clone_from=scanned)
    first = writer.pages[0]["/Resources"]["/XObject"]  # the first page's image, made undecodable
    image = next(iter(first.values())).get_object()
    image[NameObject("/Filter")] = NameObject("/JBIG2Decode")
    out = io.BytesIO()
    writer.write(out)
    result = services.ingest.ingest_bytes(workspace.id, "half-broken.pdf", out.getvalue())
    assert result.status == "added", result.error
    assert any("page images that could not be read: p.1" in w for w in result.warnings), result.warnings
    text = "".join(c.text for c in services.documents.document_chunks(workspace.id, result.document_id))
    assert "签收后七天内可以无理由退货。" in text


def test_reading_order_joins_boxes_of_a_line_left_to_right() -> None:
    box = lambda x, y: [[x, y], [x + 80, y], [x + 80, y + 30], [x, y + 30]]  # noqa: E731
    found = [
        (box(200, 102), "R7"),
        (box(10, 100), "扫地机器人"),
        (box(10, 160), "Error"),
        (box(100, 158), "E3"),
    ]
    assert reading_order(found) == "扫地机器人R7\nError E3"


def test_a_tall_box_does_not_pull_the_next_line_into_its_own() -> None:
    def box(x: float, top: float, bottom: float) -> list[list[float]]:
        return [[x, top], [x + 80, top], [x + 80, bottom], [x, bottom]]

    found = [
        (box(10, 95, 175), "保修"),  # a large first glyph run
        (box(100, 100, 130), "一年"),
        (box(190, 100, 130), "整机"),
        (box(10, 145, 175), "电池六个月"),
    ]
    assert reading_order(found) == "保修一年整机\n电池六个月"
