"""The product catalogue and behaviour events: imported from files or sent live, every bad row reported.

Catalogue columns: item_id, title, description, category, price, available (MovieLens' movieId, title,
genres work as they are). Event columns: user_id, item_id, event (view, cart, purchase, rating), weight,
timestamp. Without an event column a row with a weight or rating is a rating, otherwise a view, so
MovieLens-style user/item/rating/timestamp files import directly. Events of items missing from the
catalogue, malformed timestamps, unknown event types and duplicates are reported by row; events out of time
order are accepted and counted (they are stored, and read back, in time order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zhiwen.errors import InvalidInput, TooLarge
from zhiwen.ports import CatalogStore
from zhiwen.services.records import Record, lookup, parse_timestamp, read_records
from zhiwen.text.normalize import normalize
from zhiwen.types import BehaviourEvent, CatalogItem, utc_now

ITEM_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("item_id", "id", "sku", "product_id", "movieid", "item", "商品编号", "商品id"),
    "title": ("title", "name", "product", "商品名称", "名称", "标题"),
    "description": ("description", "desc", "details", "描述", "详情"),
    "category": ("category", "cat", "genres", "类目", "分类", "品类"),
    "price": ("price", "价格", "售价"),
    "available": ("available", "availability", "in_stock", "有货", "库存状态"),
}
EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "user": ("user_id", "user", "userid", "customer_id", "用户", "用户id"),
    "item": ("item_id", "item", "sku", "product_id", "movieid", "itemid", "商品", "商品id"),
    "kind": ("event", "type", "event_type", "action", "行为"),
    "weight": ("weight", "value", "rating", "score", "评分"),
    "time": ("timestamp", "time", "date", "created_at", "时间"),
}
EVENT_WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0}  # a rating's weight is the rating
EVENT_ALIASES = {
    "view": "view", "click": "view", "浏览": "view", "点击": "view",
    "cart": "cart", "add_to_cart": "cart", "addtocart": "cart", "加购": "cart", "加入购物车": "cart",
    "purchase": "purchase", "buy": "purchase", "order": "purchase", "transaction": "purchase",
    "购买": "purchase",
    "rating": "rating", "rate": "rating", "评分": "rating",
}  # fmt: skip
MAX_LIVE_EVENTS = 1000
_TRUE = {"true", "1", "yes", "y", "是", "有", "有货", "in stock"}
_FALSE = {"false", "0", "no", "n", "否", "无", "缺货", "out of stock"}


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    added: int = 0
    updated: int = 0  # catalogue items whose fields changed
    already_stored: int = 0
    out_of_order: int = 0  # events earlier than the row before them (accepted)
    problems: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _text(record: Mapping[str, object], aliases: tuple[str, ...]) -> str:
    value = lookup(record, aliases)
    return "" if value is None else normalize(str(value))


def _item(record: Mapping[str, object]) -> CatalogItem:
    item_id = _text(record, ITEM_COLUMNS["id"])
    if not item_id:
        raise InvalidInput("no item id")
    if len(item_id) > 200:
        raise InvalidInput("item id longer than 200 characters")
    title = _text(record, ITEM_COLUMNS["title"])
    if not title:
        raise InvalidInput(f"item {item_id!r} has no title")
    raw_price = _text(record, ITEM_COLUMNS["price"]).lstrip("¥$￥")
    try:
        price = float(raw_price) if raw_price else None
    except ValueError:
        raise InvalidInput(f"price {raw_price[:20]!r} is not a number") from None
    if price is not None and not 0 <= price < 1e9:
        raise InvalidInput(f"price {price:g} is out of range")
    raw_available = _text(record, ITEM_COLUMNS["available"]).lower()
    if raw_available and raw_available not in _TRUE | _FALSE:
        raise InvalidInput(f"available {raw_available[:20]!r}: use true/false (or 有货/缺货)")
    return CatalogItem(
        id=item_id,
        title=title[:500],
        description=_text(record, ITEM_COLUMNS["description"])[:5000],
        category=_text(record, ITEM_COLUMNS["category"])[:200],
        price=price,
        available=raw_available not in _FALSE,
    )


def _event(record: Mapping[str, object], known_items: set[str]) -> BehaviourEvent:
    user = _text(record, EVENT_COLUMNS["user"])
    item = _text(record, EVENT_COLUMNS["item"])
    if not user or not item:
        raise InvalidInput(f"no {'user' if not user else 'item'} id")
    if item not in known_items:
        raise InvalidInput(f"unknown item {item[:40]!r}; import it in the catalogue first")
    raw_weight = _text(record, EVENT_COLUMNS["weight"])
    raw_kind = _text(record, EVENT_COLUMNS["kind"]).lower()
    kind = EVENT_ALIASES.get(raw_kind) if raw_kind else ("rating" if raw_weight else "view")
    if kind is None:
        raise InvalidInput(f"event {raw_kind[:20]!r} is not one of view, cart, purchase, rating")
    try:
        weight = float(raw_weight) if raw_weight else EVENT_WEIGHTS.get(kind)
    except ValueError:
        raise InvalidInput(f"weight {raw_weight[:20]!r} is not a number") from None
    if weight is None:
        raise InvalidInput("a rating needs a weight (the rating)")
    if not 0 <= weight <= 1000:
        raise InvalidInput(f"weight {weight:g} is out of range (0-1000)")
    at = parse_timestamp(lookup(record, EVENT_COLUMNS["time"]))
    if not at:
        raise InvalidInput("no timestamp")
    return BehaviourEvent(user[:200], item, kind, weight, at)


class CatalogService:
    def __init__(self, store: CatalogStore) -> None:
        self._store = store

    def import_catalog(self, workspace_id: str, filename: str, data: bytes) -> ImportReport:
        return self._catalog(workspace_id, filename, read_records(filename, data))

    def _catalog(self, workspace_id: str, source: str, records: Sequence[Record]) -> ImportReport:
        report = ImportReport(source, rows=len(records))
        items: dict[str, tuple[int, CatalogItem]] = {}
        for number, record in records:
            try:
                item = _item(record)
            except InvalidInput as problem:
                report.problems.append({"row": number, "problem": problem.message})
                continue
            if item.id in items:
                report.problems.append({"row": number, "problem": f"duplicate of row {items[item.id][0]}"})
                continue
            items[item.id] = (number, item)
        report.added, report.updated = self._store.upsert_items(workspace_id, [i for _, i in items.values()])
        report.already_stored = len(items) - report.added - report.updated
        return report

    def import_events(self, workspace_id: str, filename: str, data: bytes) -> ImportReport:
        return self._events(workspace_id, filename, read_records(filename, data))

    def add_events(self, workspace_id: str, records: Sequence[Mapping[str, object]]) -> ImportReport:
        """Live events (``POST /v1/events``), rows numbered from 1; a missing timestamp means now."""
        if len(records) > MAX_LIVE_EVENTS:
            raise TooLarge(f"{len(records):,} events in one request; send at most {MAX_LIVE_EVENTS:,}")
        now = utc_now()
        stamped = [(n, {**r, "timestamp": r.get("timestamp") or now}) for n, r in enumerate(records, start=1)]
        return self._events(workspace_id, "request", stamped)

    def _events(self, workspace_id: str, source: str, records: Sequence[Record]) -> ImportReport:
        known = self._store.item_ids(workspace_id)
        if not known:
            raise InvalidInput("the catalogue is empty; import items first (`zhiwen catalog import`)")
        report = ImportReport(source, rows=len(records))
        events: list[BehaviourEvent] = []
        first_seen: dict[tuple[str, str, str, str], int] = {}
        latest = ""
        for number, record in records:
            try:
                if "__error__" in record:
                    raise InvalidInput(str(record["__error__"]))
                event = _event(record, known)
            except InvalidInput as problem:
                report.problems.append({"row": number, "problem": problem.message})
                continue
            key = (event.user_id, event.item_id, event.kind, event.at)
            if key in first_seen:
                report.problems.append({"row": number, "problem": f"duplicate of row {first_seen[key]}"})
                continue
            first_seen[key] = number
            report.out_of_order += event.at < latest
            latest = max(latest, event.at)
            events.append(event)
        report.added = self._store.add_events(workspace_id, events)
        report.already_stored = len(events) - report.added
        return report

    def items(self, workspace_id: str, ids: Sequence[str] | None = None) -> list[CatalogItem]:
        return self._store.items(workspace_id, ids)

    def events(self, workspace_id: str, user_id: str | None = None) -> list[BehaviourEvent]:
        return self._store.events(workspace_id, user_id)
