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


def _event(user: int, item: int, kind: str, moment: datetime, weight: str = "") -> dict[str, str]:
    return {
        "user_id": f"u{user:05d}",
        "item_id": f"sku-{item:04d}",
        "event": kind,
        "weight": weight,
        "timestamp": moment.isoformat(timespec="seconds"),
    }


def write(folder: Path, settings: ShopSettings = ShopSettings()) -> tuple[Path, Path]:
    """catalog.csv and events.csv in ``folder`` (the documented import formats)."""
    items, events = generate(settings)
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / "catalog.csv", folder / "events.csv")
    for path, rows in zip(paths, (items, events), strict=True):
        with path.open("w", encoding="utf-8", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return paths
