"""Render the demo knowledge base's PDF, DOCX and XLSX files from text sources, byte-for-byte reproducibly.

Document writers stamp the current time into their output; we pin every timestamp so that rebuilding the
folder yields identical bytes and re-ingestion sees nothing changed.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence

import docx
from openpyxl import Workbook
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

FIXED_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
_CJK_FONT = "STSong-Light"  # a CID font built into reportlab; pypdf extracts its text


def _blocks(markdown: str) -> list[tuple[int, str]]:
    """(heading level or 0 for a paragraph, text) for each block of a simple Markdown file."""
    blocks = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        line = block.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if heading:
            blocks.append((len(heading.group(1)), heading.group(2).strip()))
        else:
            blocks.append((0, " ".join(s.strip() for s in line.splitlines())))
    return blocks


def markdown_to_pdf(markdown: str) -> bytes:
    chinese = bool(_CJK.search(markdown))
    if chinese and _CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_CJK_FONT))
    font = _CJK_FONT if chinese else "Helvetica"
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=17, wordWrap="CJK" if chinese else None)
    headings = {
        1: ParagraphStyle("h1", fontName=font, fontSize=18, leading=24, spaceAfter=8),
        2: ParagraphStyle("h2", fontName=font, fontSize=14, leading=20, spaceBefore=6, spaceAfter=4),
    }
    blocks = _blocks(markdown)
    title = next((text for level, text in blocks if level == 1), "Manual")
    story = []
    for level, text in blocks:
        story.append(Paragraph(text.replace("&", "&amp;").replace("<", "&lt;"), headings.get(level, body)))
        story.append(Spacer(1, 4))
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=title, author="Aurora Digital", invariant=True).build(story)
    return buffer.getvalue()


def _pin_zip(data: bytes) -> bytes:
    """Rewrite a zip container with fixed timestamps and entry order."""
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in sorted(source.infolist(), key=lambda i: i.filename):
            pinned = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            pinned.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # writers stamp "now" here whatever we set
                content = _TIMESTAMP.sub(b"2026-01-01T00:00:00Z", content)
            target.writestr(pinned, content)
    return output.getvalue()


def markdown_to_docx(markdown: str) -> bytes:
    document = docx.Document()
    blocks = _blocks(markdown)
    document.core_properties.title = next((text for level, text in blocks if level == 1), "")
    document.core_properties.created = FIXED_TIME
    document.core_properties.modified = FIXED_TIME
    document.core_properties.last_printed = FIXED_TIME
    for level, text in blocks:
        if level:
            document.add_heading(text, level=level)
        elif text.startswith("- "):
            for item in re.split(r"\s*(?:^|\s)- ", text):
                if item.strip():
                    document.add_paragraph(item.strip(), style="List Bullet")
        else:
            document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return _pin_zip(buffer.getvalue())


def rows_to_xlsx(rows: Sequence[Sequence[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "FAQ"
    for row in rows:
        sheet.append(list(row))
    workbook.properties.created = FIXED_TIME.replace(tzinfo=None)
    workbook.properties.modified = FIXED_TIME.replace(tzinfo=None)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _pin_zip(buffer.getvalue())
