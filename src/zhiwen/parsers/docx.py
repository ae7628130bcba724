"""Word documents: headings build the title path; tables become ``cell | cell`` lines."""

from __future__ import annotations

import io
import zipfile

import docx
from docx.opc.exceptions import PackageNotFoundError
from lxml.etree import XMLSyntaxError

from zhiwen.errors import CorruptFile, EncryptedFile
from zhiwen.parsers.base import ParsedDocument, SectionCollector, refuse_zip_bombs, stem_title
from zhiwen.text.normalize import normalize

_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # password-protected .docx files are OLE containers, not zips


def _heading_level(style_name: str) -> int | None:
    for prefix in ("Heading ", "标题 "):
        if style_name.startswith(prefix) and style_name[len(prefix) :].isdigit():
            return int(style_name[len(prefix) :])
    return 1 if style_name in ("Title", "标题") else None


def parse_docx(name: str, data: bytes) -> ParsedDocument:
    if data.startswith(_OLE_MAGIC):
        raise EncryptedFile(f"{name}: the document is password-protected or an old .doc; save it as .docx")
    refuse_zip_bombs(name, data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError) as error:
        raise CorruptFile(f"{name}: not a readable DOCX file ({error})") from None
    title = normalize(document.core_properties.title or "") or stem_title(name)
    collector = SectionCollector(title)
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        level = _heading_level(paragraph.style.name if paragraph.style is not None else "")
        if text and level is not None:
            collector.heading(level, text)
        else:
            collector.paragraph(text)
    for table in document.tables:
        rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
        for row in rows:
            collector.paragraph(row if row.strip(" |") else "")
    collector.flush()
    return ParsedDocument(title=title, sections=collector.sections)
