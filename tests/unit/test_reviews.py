"""Review analytics with real parts: SQLite, the bundled E5 model, scikit-learn, real CSV/XLSX/JSONL files."""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from openpyxl import Workbook
from sklearn.base import clone
from sklearn.dummy import DummyClassifier

from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.config import Settings
from zhiwen.errors import CorruptFile, GateRefused, InvalidInput, NotFound, TooLarge, UnsupportedFormat
from zhiwen.ports import ReviewFilter
from zhiwen.sample_reviews import generate, to_csv
from zhiwen.services.reviews import charts as review_charts
from zhiwen.services.reviews.importer import read_reviews
from zhiwen.services.reviews.sentiment_models import (
    EmbeddingSentimentClassifier,
    NgramSentimentClassifier,
    SharedEmbedder,
    set_embedder,
)
from zhiwen.services.reviews.sentiment_train import SearchSettings, held_out_metrics, is_held_out, search
from zhiwen.stores.sqlite.reviews import SqliteReviewStore
from zhiwen.types import Workspace
from zhiwen.wiring import Services, build_services

Shop = tuple[Services, Workspace]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, embedder: BundledE5Embedder) -> Iterator[Shop]:
    """The demo shop's 600 reviews imported, a model trained (v1, not promoted) and the topics not built."""
    services = build_services(Settings(data_dir=tmp_path_factory.mktemp("shop")), embedder=embedder)
    workspace = services.workspaces.create_workspace("shop")
    report = services.reviews.import_file(workspace.id, "reviews.csv", to_csv(generate()), score=False)
    assert report.imported == 600 and not report.problems
    services.sentiment.train(workspace.id, "test", SearchSettings(folds=3))
    yield services, workspace
    services.close()


def test_a_file_with_bad_rows_imports_the_good_ones_and_names_every_bad_row() -> None:
    csv = (
        "text,rating,product,timestamp,label\n"
        "物流很快，很满意,5,耳机,2026-11-01,positive\n"
        ",4,耳机,2026-11-01,positive\n"
        "？？？？？？,3,耳机,2026-11-01,\n"
        "质量一般,five,耳机,2026-11-01,\n"
        "质量一般,3,耳机,yesterday,\n"
        "还行,3,耳机,2026-11-02,maybe\n"
        "物流很快，很满意,5,耳机,2026-11-01,positive\n"
        f"{'太' * 6000},1,耳机,2026-11-01,negative\n"
        '=HYPERLINK("http://evil"),1,耳机,2026-11-03,0\n'
    )
    result = read_reviews("reviews.csv", csv.encode())
    problems = dict(result.problems)
    assert problems[3] == "empty text"
    assert "junk" in problems[4]
    assert "rating 'five' is not a number" in problems[5]
    assert "timestamp 'yesterday' is not a date" in problems[6]
    assert "label 'maybe'" in problems[7]
    assert problems[8] == "duplicate of row 2"
    assert "over the 5,000 limit" in problems[9]
    kept = [row for _, row in result.rows]
    assert [r.text for r in kept] == ["物流很快，很满意", '=HYPERLINK("http://evil")']  # stored as text
    assert kept[0].created_at == "2026-11-01T00:00:00+00:00" and kept[1].label == "negative"


def test_gbk_files_chinese_headers_xlsx_dates_and_jsonl_are_read() -> None:
    gbk = "评论,评分,商品,时间,标签\n送餐太慢了，菜都凉了,1,外卖,2026/11/02 18:30,差评\n".encode("gbk")
    ((_, row),) = read_reviews("外卖评价.csv", gbk).rows
    assert (row.text, row.rating, row.product, row.label) == ("送餐太慢了，菜都凉了", 1.0, "外卖", "negative")
    assert row.created_at == "2026-11-02T18:30:00+00:00"

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Review", "Stars", "SKU", "Date"])
    sheet.append(["Great phone case", 5, "P1", datetime(2026, 10, 3, 9, 0)])
    buffer = io.BytesIO()
    book.save(buffer)
    ((_, row),) = read_reviews("reviews.xlsx", buffer.getvalue()).rows
    assert (row.text, row.product, row.created_at) == ("Great phone case", "P1", "2026-10-03T09:00:00+00:00")

    jsonl = '{"text": "good", "label": 1}\n{not json\n[1, 2]\n{"content": "bad", "label": 0}\n'
    result = read_reviews("reviews.jsonl", jsonl.encode())
    assert [r.label for _, r in result.rows] == ["positive", "negative"]
    assert dict(result.problems)[2].startswith("not JSON") and dict(result.problems)[3] == "not a JSON object"


@pytest.mark.parametrize(
    ("name", "data", "error", "message"),
    [
        ("reviews.csv", b"", InvalidInput, "the file is empty"),
        ("reviews.csv", b"rating,product\n5,phone\n", InvalidInput, "no review text column"),
        ("reviews.csv", b"text\n", InvalidInput, "no reviews in it"),
        ("reviews.xlsx", b"PK\x03\x04 not really a workbook", CorruptFile, "not a readable XLSX"),
        ("reviews.pdf", b"%PDF-1.4", UnsupportedFormat, ".csv, .xlsx or .jsonl"),
        ("reviews.csv", b"text\n" + b"x" * (50 * 1024 * 1024), TooLarge, "split it"),
        ("reviews.csv", b"\x00\x01\x02binary", CorruptFile, "binary"),
    ],
)
def test_unusable_files_are_refused_whole_with_the_reason(
    name: str, data: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        read_reviews(name, data)


def test_a_refused_file_stores_nothing_and_a_second_import_adds_nothing(
    services: Services, workspace: Workspace
) -> None:
    with pytest.raises(InvalidInput):
        services.reviews.import_file(workspace.id, "r.csv", b"rating\n5\n", score=False)
    assert services.reviews.list_reviews(workspace.id, ReviewFilter()) == []
    data = to_csv(generate(50))
    first = services.reviews.import_file(workspace.id, "r.csv", data, score=False)
    again = services.reviews.import_file(workspace.id, "r.csv", data, score=False)
    assert (first.imported, again.imported, again.already_stored) == (50, 0, 50)


def test_a_large_import_is_scored_by_the_live_model(services: Services, workspace: Workspace) -> None:
    services.reviews.import_file(workspace.id, "r.csv", to_csv(generate(300)), score=False)
    model = services.sentiment.train(workspace.id, "test", SearchSettings(candidates=("ngram",)))
    services.sentiment.promote(workspace.id, model.version, "test")
    rows = [{**r, "text": f"{r['text']} #{n}"} for n, r in enumerate(generate(40_000, seed=3))]
    report = services.reviews.import_file(workspace.id, "big.csv", to_csv(rows))
    assert report.imported == 40_000 and report.scored == 40_000  # more ids than SQLite binds at once


def test_the_zero_shot_baseline_works_before_any_model_and_says_so(
    services: Services, workspace: Workspace
) -> None:
    results = services.reviews.classify(
        workspace.id,
        [("质量太差了，用了两天就坏了，很失望", ""), ("Great value, works perfectly, very happy", "")],
    )
    assert [r.label for r in results] == ["negative", "positive"]
    assert all(r.model == "zero-shot baseline" for r in results)
    with pytest.raises(InvalidInput, match="text 1 is empty"):
        services.reviews.classify(workspace.id, [("  ", "")])
    with pytest.raises(TooLarge):
        services.reviews.classify(workspace.id, [("好", "")] * 1001)


def test_training_compares_candidates_by_cross_validation_and_reports_held_out_metrics(shop: Shop) -> None:
    services, workspace = shop
    model = services.sentiment.family.get(workspace.id, 1)
    report = model.report
    assert {c["candidate"] for c in report["comparison"]} == {"ngram", "embedding", "blend"}
    assert sum(c["chosen"] for c in report["comparison"]) == 1 and len(report["grid"]) >= 6
    held = report["held_out"]
    assert held["reviews"] > 60
    assert held["accuracy"] > 0.9 and held["macro_f1"] > 0.8
    assert set(held["per_label"]) == {"negative", "neutral", "positive"}
    assert model.family == "sentiment" and report["labels"] == ["negative", "neutral", "positive"]
    assert np.asarray(held["confusion"]).sum() == held["reviews"]
    assert report["zero_shot"]["reviews"] > 0 and report["zero_shot"]["accuracy"] < held["accuracy"]
    assert services.sentiment.family.live_version(workspace.id) is None  # trained is not live


def test_held_out_reviews_are_never_trained_on(shop: Shop) -> None:
    services, workspace = shop
    model = services.sentiment.family.get(workspace.id, 1)
    reviews = services.reviews.list_reviews(workspace.id, ReviewFilter(ids=list(model.report["predictions"])))
    assert reviews and all(is_held_out(r.text) for r in reviews)
    assert model.report["train_reviews"] + len(reviews) == 600


def _always_positive(services: Services, workspace: Workspace) -> int:
    """A stored model that says "positive" to everything, evaluated on v1's held-out reviews."""
    trained = services.sentiment.family.get(workspace.id, 1)
    ids = list(trained.report["predictions"])
    truth = [r.label or "" for r in services.reviews.list_reviews(workspace.id, ReviewFilter(ids=ids))]
    labels = list(trained.report["labels"])
    always = DummyClassifier(strategy="constant", constant="positive").fit([[0]] * 3, labels)
    report = {
        "labels": labels,
        "held_out": held_out_metrics(truth, ["positive"] * len(truth), labels),
        "predictions": dict.fromkeys(ids, "positive"),
    }
    return services.sentiment.family.save(
        workspace.id, "ngram", {}, report, pickle.dumps(always), "test"
    ).version


def test_the_gate_refuses_below_the_minimum_or_worse_than_live_and_rollback_is_instant(shop: Shop) -> None:
    services, workspace = shop
    bad = _always_positive(services, workspace)
    services.sentiment.family.set_gate_policy(workspace.id, {"macro_f1": 0.5}, None)
    with pytest.raises(GateRefused) as refused:
        services.sentiment.promote(workspace.id, bad, "test")
    assert "macro_f1" in refused.value.details["failures"][0]  # type: ignore[index]
    assert services.sentiment.family.live_version(workspace.id) is None
    with pytest.raises(InvalidInput, match="unknown gated metric"):
        services.sentiment.family.set_gate_policy(workspace.id, {"recall": 0.5}, None)
    assert services.sentiment.promote(workspace.id, 1, "test")["passed"]

    services.sentiment.family.set_gate_policy(workspace.id, {"macro_f1": 0.0}, 0.02)
    with pytest.raises(GateRefused) as refused:
        services.sentiment.promote(workspace.id, bad, "test")
    details = refused.value.details
    assert details["live"]["version"] == 1  # type: ignore[index]
    assert any("against live v1" in f for f in details["failures"])  # type: ignore[attr-defined]
    assert services.sentiment.family.live_version(workspace.id) == 1

    second = services.sentiment.train(workspace.id, "test", SearchSettings(candidates=("ngram",)))
    services.sentiment.family.set_gate_policy(workspace.id, {}, 1.0)
    assert services.sentiment.promote(workspace.id, second.version, "test")["live"]["version"] == 1
    assert services.sentiment.rollback(workspace.id, "test") == 1
    assert services.sentiment.family.live_version(workspace.id) == 1
    history = services.sentiment.family.history(workspace.id)
    assert [e["action"] for e in history][:2] == ["rollback", "promote"]


def test_scoring_uses_the_live_model_and_explains_with_words_from_the_text(shop: Shop) -> None:
    services, workspace = shop
    services.sentiment.rollback(workspace.id, "test", 1)
    live = services.sentiment.family.live_version(workspace.id)
    scored = services.reviews.score(workspace.id)
    assert scored == 600 and services.reviews.score(workspace.id) == 0  # nothing left unscored
    reviews = services.reviews.list_reviews(workspace.id, ReviewFilter())
    assert all(r.model_version == live and r.sentiment for r in reviews)
    agreement = np.mean([r.sentiment == r.label for r in reviews])
    assert agreement > 0.9

    text = "客服态度很差，问了半天没人回复，很失望。"
    (result,) = services.reviews.classify(workspace.id, [(text, "无线耳机 A3")])
    assert result.label == "negative" and result.model.startswith(f"v{live} ")
    assert result.words and all(word in text.lower() for word, _ in result.words)
    assert abs(sum(result.probabilities.values()) - 1) < 1e-3


def test_complaint_topics_follow_what_customers_complain_about(shop: Shop) -> None:
    services, workspace = shop
    model = services.insights.build_topics(workspace.id)
    assert 2 <= len(model.topics) <= 12
    keywords = " ".join(" ".join(t.keywords) for t in model.topics)
    assert any(word in keywords for word in ("电池", "续航", "battery", "充电"))
    assert any(word in keywords for word in ("物流", "快递", "delivery", "发货", "包装"))
    negatives = services.reviews.list_reviews(workspace.id, ReviewFilter(sentiment="negative"))
    assert negatives and all(r.topic is not None for r in negatives)
    with pytest.raises(InvalidInput, match="between 2 and 30"):
        services.insights.build_topics(workspace.id, k=1)


def test_the_summary_shows_satisfaction_per_product_and_month_with_charts(shop: Shop) -> None:
    services, workspace = shop
    if services.insights.topics(workspace.id) is None:
        services.insights.build_topics(workspace.id)
    summary = services.insights.summary(workspace.id, period="month")
    assert summary["overall"]["reviews"] == 600
    products = {p["product"]: p for p in summary["products"]}
    assert set(products) == {"扫地机器人 X1", "无线耳机 A3", "智能手表 W2", "Phone Case P1"}
    vacuum = products["扫地机器人 X1"]
    assert [p["period"] for p in vacuum["periods"]] == [
        "2026-05",
        "2026-06",
        "2026-07",
        "2026-08",
        "2026-09",
        "2026-10",
    ]
    assert sum(p["reviews"] for p in vacuum["periods"]) == vacuum["reviews"]
    assert vacuum["top_topics"] and vacuum["top_topics"][0]["name"]
    assert (
        services.insights.summary(workspace.id, product="Phone Case P1")["overall"]["reviews"]
        == products["Phone Case P1"]["reviews"]
    )
    weekly = services.insights.summary(workspace.id, period="week", since="2026-06-01", until="2026-07-01")
    assert all(p["period"].startswith("2026-W2") for x in weekly["products"] for p in x["periods"])

    assert review_charts.trend_png(summary).startswith(b"\x89PNG")
    assert review_charts.topics_png(summary).startswith(b"\x89PNG")
    page = review_charts.summary_html(summary)
    assert "扫地机器人 X1" in page and page.count("<img") == 2
    with pytest.raises(InvalidInput, match="day, week or month"):
        services.insights.summary(workspace.id, period="year")  # type: ignore[arg-type]


def test_html_in_reviews_is_escaped_in_the_report() -> None:
    summary = {
        "period": "month",
        "overall": {"reviews": 1, "scored": 0, "satisfaction": None},
        "products": [
            {
                "product": "<script>alert(1)</script>",
                "reviews": 1,
                "scored": 0,
                "satisfaction": None,
                "negative": 0,
                "top_topics": [],
                "periods": [{"period": "2026-11", "reviews": 1, "satisfaction": None}],
            }
        ],
        "topics": [],
    }
    page = review_charts.summary_html(summary)
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_the_n_gram_model_follows_scikit_learn_conventions_and_learns_per_product() -> None:
    rows = generate(300)
    samples = [(r["text"], r["product"]) for r in rows]
    y = [r["label"] for r in rows]
    model = NgramSentimentClassifier(min_product_reviews=50)
    assert model.fit(samples, y) is model and set(model.classes_) == {"negative", "neutral", "positive"}
    assert len(model.products_) == 4
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "model_")
    assert model.predict_proba(samples[:5]).shape == (5, 3)
    assert (model.predict(samples) == np.asarray(y)).mean() > 0.9
    restored = pickle.loads(pickle.dumps(model))
    assert (restored.predict(samples[:20]) == model.predict(samples[:20])).all()


def test_stored_embedding_models_leave_the_embedder_out_and_take_it_back() -> None:
    calls: list[int] = []

    def embed(texts: object) -> np.ndarray:
        calls.append(1)
        return np.ones((len(texts), 3), dtype=np.float32)  # type: ignore[arg-type]

    shared = SharedEmbedder(embed)
    model = EmbeddingSentimentClassifier(shared, C=1.0)
    assert clone(model).embedder is shared  # shared, not copied
    restored = pickle.loads(pickle.dumps(model))
    with pytest.raises(RuntimeError, match="without an embedder"):
        restored.embedder(["x"])
    set_embedder(restored, shared)
    assert restored.embedder(["x"]).shape == (1, 3) and calls


def test_customer_messages_to_the_assistant_become_reviews(demo_copy: Shop) -> None:
    services, workspace = demo_copy
    answer = services.answerer.answer(workspace.id, "退货要多久才能退款？太慢了")
    report = services.reviews.import_conversations(workspace.id)
    assert report.imported == 1 and report.scored == 1
    (review,) = services.reviews.list_reviews(workspace.id, ReviewFilter(ids=[answer.id]))
    assert review.channel == "assistant" and review.sentiment in ("negative", "positive")
    assert services.reviews.import_conversations(workspace.id).imported == 0


def test_training_without_labels_explains_what_to_do(
    services: Services, workspace: Workspace, tmp_path: Path
) -> None:
    rows = [{**r, "label": ""} for r in generate(40)]
    services.reviews.import_file(workspace.id, "r.csv", to_csv(rows), score=False)
    with pytest.raises(InvalidInput, match="--from-ratings"):
        services.sentiment.train(workspace.id, "test")
    json.dumps(services.insights.summary(workspace.id))  # a summary of unscored reviews still serialises


def test_one_workspace_never_sees_another_workspaces_reviews_models_or_vectors(services: Services) -> None:
    shop_a = services.workspaces.create_workspace("a")
    shop_b = services.workspaces.create_workspace("b")
    rows = generate(150)
    services.reviews.import_file(shop_a.id, "r.csv", to_csv(rows), score=False)
    assert services.reviews.list_reviews(shop_b.id, ReviewFilter()) == []
    assert services.reviews.import_file(shop_b.id, "r.csv", to_csv(rows), score=False).imported == 150
    store = SqliteReviewStore(services.db)
    review = services.reviews.list_reviews(shop_a.id, ReviewFilter(limit=1))[0]
    store.save_vectors(shop_a.id, {review.id: np.ones(384, dtype=np.float32)})
    assert store.vectors(shop_b.id, [review.id]) == {}
    services.sentiment.train(shop_a.id, "test", SearchSettings(candidates=("ngram",)))
    family = services.sentiment.family
    assert family.versions(shop_b.id) == [] and family.live_version(shop_b.id) is None
    with pytest.raises(NotFound):
        family.get(shop_b.id, 1)


def test_a_rare_label_survives_the_sampled_search() -> None:
    rows = [r for r in generate(4000) if r["label"] != "neutral"]
    rows += [r for r in generate(200, seed=11) if r["label"] == "neutral"][:10]
    samples = [(r["text"], r["product"]) for r in rows]
    result = search(samples, [r["label"] for r in rows], None, SearchSettings(("ngram",), search_size=300))
    assert set(result.model.classes_) == {"negative", "neutral", "positive"}
