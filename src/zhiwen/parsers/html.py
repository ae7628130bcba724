"""HTML (boilerplate stripped) and Markdown (rendered to HTML first), split into sections at headings."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag
from markdown_it import MarkdownIt

from zhiwen.parsers.base import ParsedDocument, SectionCollector, stem_title
from zhiwen.text.normalize import decode, normalize

_BOILERPLATE = [
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "noscript",
    "iframe",
    "svg",
    "button",
]
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {"p", "li", "pre", "blockquote", "dd", "dt", "tr", "figcaption", "caption", "summary"}
_BOILERPLATE_HINTS = ("cookie", "breadcrumb", "sidebar", "advert", "share", "related", "newsletter", "menu")


def _is_boilerplate(tag: Tag) -> bool:
    attrs = " ".join(
        [*(tag.get("class") or []), str(tag.get("id") or ""), str(tag.get("role") or "")]
    ).lower()
    return any(hint in attrs for hint in _BOILERPLATE_HINTS) or attrs.strip() in ("navigation", "banner")


def _sections_from_html(html: str, fallback_title: str) -> ParsedDocument:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_BOILERPLATE):
        tag.decompose()
    for tag in soup.find_all(True):
        is_block = isinstance(tag, Tag) and tag.name in ("div", "section", "ul", "p", "span")
        if is_block and not tag.decomposed and _is_boilerplate(tag):
            tag.decompose()
    head_title = normalize(_text(soup.title)) if soup.title else ""
    body = soup.body or soup
    first_h1 = body.find("h1")
    title = normalize(_text(first_h1)) if isinstance(first_h1, Tag) else head_title or fallback_title
    collector = SectionCollector(title)
    _number_items(body)
    for tag in body.find_all([*_HEADINGS, *_BLOCKS]):
        if not isinstance(tag, Tag):
            continue
        if tag.name in _HEADINGS:
            collector.heading(_HEADINGS[tag.name], normalize(_text(tag)))
        elif not tag.find_parent(list(_BLOCKS)):
            if tag.name == "tr":
                cells = (_text(c).replace("\n", " ") for c in tag.find_all(["td", "th"]))
                collector.paragraph(" | ".join(cells))  # a row is one line
            elif tag.name == "li":
                collector.paragraph(f"{_marker(tag)}{_text(tag)}")
            else:
                collector.paragraph(_text(tag))
    collector.flush()
    return ParsedDocument(title=title, sections=collector.sections)


def _number_items(body: Tag) -> None:
    """Mark each item of an ordered list with its number (``data-n``), once for the whole page."""
    for ordered in body.find_all("ol"):
        start = ordered.get("start")
        first = int(start) if isinstance(start, str) and start.lstrip("-").isdigit() else 1
        for n, item in enumerate(ordered.find_all("li", recursive=False), start=first):
            item["data-n"] = str(n)


def _marker(item: Tag) -> str:
    """A list's item keeps its mark ("- ", "2. "), so it is read and shown as an item."""
    number = item.get("data-n")
    return f"{number}. " if isinstance(number, str) else "- "


_LINE = "\ue000"  # where a line ends: at <br> and around a block inside the one read


def _text(tag: Tag) -> str:
    """The text of ``tag`` as a browser lays it out: inline elements run on as written ("<b>失卡保障</b>：…"
    is "失卡保障：…", not "失卡保障 ：…"), white space (a line break in the source too) is one space, and
    a <br> or a block inside it (a nested list's items, a quote's paragraphs) starts a line."""
    for br in tag.find_all("br"):
        br.replace_with(_LINE)
    for block in tag.find_all([*_BLOCKS, "ul", "ol", "div", "table", "section", *_HEADINGS]):
        block.insert_before(_LINE)
        block.insert_after(_LINE)
    lines = (" ".join(line.split()) for line in tag.get_text().split(_LINE))
    return "\n".join(line for line in lines if line)


def parse_html(name: str, data: bytes) -> ParsedDocument:
    return _sections_from_html(decode(data, name), stem_title(name))


_markdown = MarkdownIt("commonmark").enable("table")


def parse_markdown(name: str, data: bytes) -> ParsedDocument:
    return _sections_from_html(_markdown.render(decode(data, name)), stem_title(name))
