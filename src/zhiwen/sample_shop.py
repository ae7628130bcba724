"""A synthetic shop for recommendation tests and benchmarks: a catalogue and customers' behaviour.

What real shops have and a recommender must cope with, each with a knob:

* **latent tastes**: each user draws a preference over categories (Dirichlet, mostly one or two);
* **popularity skew**: within a category, items are chosen in proportion to rank^-``skew`` (Zipf);
* **seasonality**: each category peaks in its own month (outdoor in July, heaters in January);
* **a funnel**: views, some become carts, some carts purchases, some purchases ratings;
* **activity skew**: a few users do most of the events (log-normal sessions per user), and many users have
  only a handful, which is the cold start.

Deterministic for a given seed. ``write`` produces the documented files (catalog.csv, events.csv).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

CATEGORIES: dict[str, tuple[str, int, float, tuple[str, ...]]] = {
    # name: (English, peak month, median price, title nouns)
    "手机配件": ("phone accessories", 11, 60.0, ("手机壳", "充电器", "数据线", "移动电源", "Phone Case")),
    "家电": ("home appliances", 1, 900.0, ("扫地机器人", "空气净化器", "取暖器", "加湿器", "Robot Vacuum")),
    "户外": ("outdoor", 7, 300.0, ("帐篷", "登山包", "防晒衣", "露营灯", "Camping Chair")),
    "厨房": ("kitchen", 2, 150.0, ("电饭煲", "炒锅", "刀具套装", "保温杯", "Coffee Grinder")),
    "美妆": ("beauty", 5, 120.0, ("面霜", "防晒霜", "口红", "面膜", "Lip Balm")),
    "图书": ("books", 9, 45.0, ("小说", "绘本", "编程入门", "历史读物", "Cookbook")),
    "服装": ("clothing", 10, 200.0, ("羽绒服", "T恤", "牛仔裤", "运动鞋", "Rain Jacket")),
    "运动": ("sports", 4, 250.0, ("瑜伽垫", "跳绳", "哑铃", "跑步机", "Tennis Racket")),
}
# The demo knowledge base's products (sample_kb/docs/products.jsonl) and their accessories: `make run` puts
# them in the demo catalogue, so questions about them can carry related products.
DEMO_PRODUCTS: tuple[tuple[str, str, float], ...] = (
    ("极光扫地机器人 R7 / Aurora Robot Vacuum R7", "家电", 2499.0),
    ("极光扫地机器人 R7 Max / Aurora Robot Vacuum R7 Max", "家电", 3299.0),
    ("R7 滤网边刷套装 / R7 filter and brush kit", "家电", 129.0),
    ("Aurora Phone X1 手机 / Aurora Phone X1", "手机配件", 3999.0),
    ("Phone X1 手机壳 / Phone X1 case", "手机配件", 79.0),
    ("AuroraBuds Pro 无线降噪耳机 / AuroraBuds Pro earbuds", "手机配件", 899.0),
    ("Aurora Watch S2 智能手表 / Aurora Watch S2 smartwatch", "手机配件", 1299.0),
    ("Watch S2 真皮表带 / Watch S2 leather strap", "手机配件", 199.0),
    ("极光平板 T10 / Aurora Tablet T10", "手机配件", 1799.0),
    ("极光 Air 14 笔记本电脑 / Aurora Air 14 laptop", "手机配件", 5999.0),
)
ADJECTIVES = ("轻薄", "经典", "升级款", "便携", "大容量", "静音", "Pro", "Lite", "Max", "Mini")
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ShopSettings:
    users: int = 2000
    items: int = 600
    days: int = 180
    sessions_per_user: float = 6.0  # median; log-normal, so some users have one and some a hundred
    skew: float = 1.1
    seed: int = 7
    featured: tuple[tuple[str, str, float], ...] = ()  # (title, category, price) replacing generated items


def generate(settings: ShopSettings = ShopSettings()) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(catalogue rows, event rows), events in time order."""
    rng = np.random.default_rng(settings.seed)
    names = list(CATEGORIES)
    items = []
    by_category: dict[str, list[int]] = {c: [] for c in names}
    for n in range(settings.items):
        category = names[n % len(names)]
        english, _, price, nouns = CATEGORIES[category]
        noun = nouns[int(rng.integers(len(nouns)))]
        title = f"{ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]} {noun} {n // len(names) + 1}"
        by_category[category].append(n)
        items.append(
            {
                "item_id": f"sku-{n:04d}",
                "title": title,
                "description": f"{category}（{english}）：{title}，适合日常使用。",
                "category": category,
                "price": f"{price * math.exp(rng.normal(0, 0.4)):.2f}",
                "available": "true" if rng.random() > 0.05 else "false",
            }
        )
    for (title, category, price), n in zip(
        settings.featured, _featured_slots(settings, by_category), strict=True
    ):
        english = CATEGORIES[category][0]
        items[n].update(title=title, price=f"{price:.2f}", available="true")
        items[n]["description"] = f"{category}（{english}）：{title}。"
    popularity = {
        c: np.array([(rank + 1) ** -settings.skew for rank in range(len(members))])
        for c, members in by_category.items()
    }
    for c in names:  # which item of a category is popular is random, not its id order
        rng.shuffle(popularity[c])
    events = []
    for u in range(settings.users):
        taste = rng.dirichlet(np.full(len(names), 0.3))
        sessions = max(1, int(rng.lognormal(math.log(settings.sessions_per_user), 0.9)))
        for _ in range(sessions):
            day = int(rng.integers(settings.days))
            moment = START + timedelta(days=day, seconds=int(rng.integers(86_400)))
            month = moment.month
            season = np.array(
                [1 + 0.8 * math.cos(2 * math.pi * (month - CATEGORIES[c][1]) / 12) for c in names]
            )
            weights = taste * season
            category = names[int(rng.choice(len(names), p=weights / weights.sum()))]
            p = popularity[category] / popularity[category].sum()
            for _ in range(int(rng.integers(1, 4))):  # a session views one to three items
                item = by_category[category][int(rng.choice(len(p), p=p))]
                moment += timedelta(seconds=int(rng.integers(20, 600)))
                events.append(_event(u, item, "view", moment))
                if rng.random() < 0.25:
                    moment += timedelta(seconds=int(rng.integers(10, 300)))
                    events.append(_event(u, item, "cart", moment))
                    if rng.random() < 0.5:
                        moment += timedelta(seconds=int(rng.integers(10, 900)))
                        events.append(_event(u, item, "purchase", moment))
                        if rng.random() < 0.3:
                            rating = str(int(np.clip(rng.normal(4.2, 0.8), 1, 5)))
                            events.append(_event(u, item, "rating", moment + timedelta(days=3), rating))
    events.sort(key=lambda e: e["timestamp"])
    return items, events


def _featured_slots(settings: ShopSettings, by_category: dict[str, list[int]]) -> list[int]:
    """Which generated items the featured ones replace: the first unused ones of their category."""
    used: dict[str, int] = {}
    slots = []
    for _, category, _ in settings.featured:
        if category not in by_category:
            raise ValueError(f"unknown category {category!r}; known: {', '.join(by_category)}")
        position = used.get(category, 0)
        if position >= len(by_category[category]):
            raise ValueError(f"too few items in {category} for the featured ones; raise ShopSettings.items")
        slots.append(by_category[category][position])
        used[category] = position + 1
    return slots


def _event(user: int, item: int, kind: str, moment: datetime, weight: str = "") -> dict[str, str]:
    return {
        "user_id": f"u{user:05d}",
        "item_id": f"sku-{item:04d}",
        "event": kind,
        "weight": weight,
        "timestamp": moment.isoformat(timespec="seconds"),
    }


def rows_csv(rows: list[dict[str, str]]) -> bytes:
    """Rows as CSV bytes, the documented import format."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write(folder: Path, settings: ShopSettings = ShopSettings()) -> tuple[Path, Path]:
    """catalog.csv and events.csv in ``folder`` (the documented import formats)."""
    items, events = generate(settings)
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / "catalog.csv", folder / "events.csv")
    for path, rows in zip(paths, (items, events), strict=True):
        path.write_bytes(rows_csv(rows))
    return paths
