"""Customer reviews of the demo shop, in Chinese and English, for `make run`, the docs and the tests.

Each review is composed from what customers say about one aspect of a product (battery, delivery, service,
quality, price), in praise or complaint, so the complaint topics are known in advance. Ratings follow the
sentiment with some noise, timestamps spread over six months, and one product gets worse over time (the
vacuum's battery complaints grow month by month), which the trend chart shows. Deterministic for a given seed.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta

PRODUCTS = ("扫地机器人 X1", "无线耳机 A3", "智能手表 W2", "Phone Case P1")
CHANNELS = ("app", "web", "客服热线")

# aspect -> (complaints, praise), each a list of phrases in Chinese and English
ASPECTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "battery": (
        (
            "电池续航太短，充一次电用不了半天",
            "电池不耐用，没几天就充不满了",
            "充电特别慢，电量掉得飞快",
            "battery dies in a few hours",
            "the battery drains overnight and charging takes forever",
        ),
        (
            "续航很长，充一次能用一周",
            "电池很耐用，充电也快",
            "battery lasts all week",
            "charges fast and lasts long",
        ),
    ),
    "delivery": (
        (
            "物流太慢了，等了十天才到",
            "快递包装破损，盒子都压扁了",
            "发货拖了一个星期，催了也没用",
            "delivery took two weeks",
            "the parcel arrived crushed and late",
        ),
        (
            "物流很快，第二天就到了",
            "包装很仔细，送货及时",
            "arrived the next day, well packed",
            "fast shipping",
        ),
    ),
    "service": (
        (
            "客服态度很差，问了半天没人回复",
            "售后推来推去，退货申请一直不处理",
            "客服电话打不通，留言也不回",
            "customer service never answered my emails",
            "support was rude and refused the return",
        ),
        (
            "客服很耐心，问题很快解决了",
            "售后服务很好，换货很顺利",
            "support solved my problem in minutes",
            "friendly and helpful service",
        ),
    ),
    "quality": (
        (
            "质量太差，用了两天就坏了",
            "做工粗糙，按键松动有异响",
            "外壳一摔就裂，材料很廉价",
            "it broke after two days",
            "cheap plastic, the button stopped working",
        ),
        ("做工精细，质量很好", "用了半年还跟新的一样", "solid build quality", "well made and sturdy"),
    ),
    "price": (
        (
            "价格太贵，不值这个钱",
            "刚买就降价两百，很不爽",
            "overpriced for what it does",
            "way too expensive",
        ),
        ("性价比很高，物超所值", "价格实惠，活动很划算", "great value for money", "good price"),
    ),
}
OPENINGS = {
    "zh": ("", "", "第二次买了，", "给家里买的，"),
    "en": ("", "", "Bought this for my mum: ", "Second one. "),
}
CLOSINGS = {
    ("zh", "negative"): ("。", "！", "，不推荐。", "，很失望。"),
    ("zh", "positive"): ("。", "！", "，推荐购买。", "，很满意。"),
    ("zh", "neutral"): ("。", "，一般吧。"),
    ("en", "negative"): (".", "!", ". Would not buy again.", ". Disappointed."),
    ("en", "positive"): (".", "!", ". Recommended.", ". Happy with it."),
    ("en", "neutral"): (".", ". It is OK."),
}


def generate(count: int = 600, seed: int = 7, start: datetime | None = None) -> list[dict[str, str]]:
    """Rows with text, rating, product, channel, timestamp and label (negative/neutral/positive)."""
    rng = random.Random(seed)
    start = start or datetime(2026, 5, 1, tzinfo=UTC)
    rows = []
    for _ in range(count):
        product = rng.choice(PRODUCTS)
        day = rng.randrange(183)
        aspect = rng.choice(list(ASPECTS))
        p_negative = 0.35
        if product == PRODUCTS[0]:  # the vacuum's battery gets worse over the months
            aspect = "battery" if rng.random() < day / 366 else aspect
            p_negative = 0.2 + 0.6 * day / 183 if aspect == "battery" else p_negative
        negative = rng.random() < p_negative
        complaints, praise = ASPECTS[aspect]
        phrase = rng.choice(complaints if negative else praise)
        language = "en" if phrase.isascii() else "zh"
        if not negative and rng.random() < 0.15:  # praise with a complaint in the same language: neutral
            other = [
                complaint
                for name, (complaints_of_aspect, _) in ASPECTS.items()
                if name != aspect
                for complaint in complaints_of_aspect
                if complaint.isascii() == phrase.isascii()
            ]
            joint = ", but " if language == "en" else "，但是"
            phrase = f"{phrase}{joint}{rng.choice(other)}"
            label, rating = "neutral", 3
        else:
            label = "negative" if negative else "positive"
            rating = rng.choice((1, 1, 2)) if negative else rng.choice((4, 5, 5))
        text = f"{rng.choice(OPENINGS[language])}{phrase}{rng.choice(CLOSINGS[language, label])}"
        moment = start + timedelta(days=day, hours=rng.randrange(8, 23), minutes=rng.randrange(60))
        rows.append(
            {
                "text": text,
                "rating": str(rating),
                "product": product,
                "channel": rng.choice(CHANNELS),
                "timestamp": moment.isoformat(timespec="minutes"),
                "label": label,
                "aspect": aspect,
            }
        )
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
