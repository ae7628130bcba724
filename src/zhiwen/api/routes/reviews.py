"""Review analytics: import, classify, sentiment models (train as a job, gate, promote, rollback), complaint
topics and per-product summaries with charts. Classifying takes any key; the rest needs an admin key."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile, status
from fastapi.responses import HTMLResponse

from zhiwen import tasks
from zhiwen.api.deps import AdminKey, AnyKey, ServicesDep, actor, read_upload
from zhiwen.api.routes.documents import job_out
from zhiwen.api.routes.model_routes import add_model_routes
from zhiwen.api.schemas import (
    ClassificationOut,
    ClassifyRequest,
    ImportReportOut,
    JobOut,
    Number,
    ReviewOut,
    ReviewsImport,
    SentimentTrainRequest,
    TopicOut,
    TopicsOut,
    TopicsRequest,
    other_content,
)
from zhiwen.errors import NotFound
from zhiwen.ports import ReviewFilter
from zhiwen.services.records import MAX_FILE_BYTES
from zhiwen.services.reviews import charts as review_charts
from zhiwen.services.reviews.topics import TopicModel

router = APIRouter(prefix="/v1", tags=["reviews"])
PREDICTIONS = ("predictions",)  # each held-out review's predicted label: for the gate, too long to show


@router.post("/reviews", status_code=status.HTTP_201_CREATED, response_model=ImportReportOut)
def import_reviews(body: ReviewsImport, services: ServicesDep, key: AdminKey) -> ImportReportOut:
    """Import up to 5,000 reviews sent as JSON. Bad rows are reported by number (from 1); the others are
    stored (and scored with the live model unless ``score`` is false)."""
    records = [r.model_dump(exclude_none=True) for r in body.reviews]
    return ImportReportOut(**services.reviews.import_records(key.workspace_id, records, body.score).to_dict())


@router.post("/reviews/import", status_code=status.HTTP_201_CREATED, response_model=ImportReportOut)
def import_review_file(
    services: ServicesDep,
    key: AdminKey,
    file: Annotated[UploadFile, File(description="CSV, XLSX or JSONL with a text column")],
    score: bool = True,
) -> ImportReportOut:
    """Import reviews from CSV, XLSX or JSONL (UTF-8 or GBK); bad rows are reported by number."""
    data = read_upload(file, MAX_FILE_BYTES)
    report = services.reviews.import_file(key.workspace_id, file.filename or "reviews.csv", data, score)
    return ImportReportOut(**report.to_dict())


@router.post("/reviews/conversations", status_code=status.HTTP_201_CREATED, response_model=ImportReportOut)
def import_conversations(
    services: ServicesDep, key: AdminKey, since: Annotated[str | None, Query(max_length=40)] = None
) -> ImportReportOut:
    """Customers' messages to the assistant become reviews (channel "assistant") and are scored."""
    return ImportReportOut(**services.reviews.import_conversations(key.workspace_id, since).to_dict())


@router.get("/reviews", response_model=list[ReviewOut])
def list_reviews(
    services: ServicesDep,
    key: AdminKey,
    product: Annotated[str | None, Query(max_length=200)] = None,
    sentiment: Literal["negative", "neutral", "positive"] | None = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
) -> list[ReviewOut]:
    """Reviews filtered by product, sentiment and dates."""
    query = ReviewFilter(product=product, sentiment=sentiment, since=since, until=until, limit=limit)
    return [
        ReviewOut(**dataclasses.asdict(r)) for r in services.reviews.list_reviews(key.workspace_id, query)
    ]


@router.post("/reviews/classify", response_model=list[ClassificationOut])
def classify(body: ClassifyRequest, services: ServicesDep, key: AnyKey) -> list[ClassificationOut]:
    """Label up to 1,000 texts with the live model (the zero-shot baseline before any is promoted), with
    the probability of each label and the words that drove the decision. Nothing is stored."""
    results = services.reviews.classify(
        key.workspace_id, [(item.text, item.product) for item in body.items], body.explain
    )
    return [ClassificationOut(**dataclasses.asdict(r)) for r in results]


@router.post("/reviews/score", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def score(services: ServicesDep, key: AdminKey, rescore: bool = False) -> JobOut:
    """Score stored reviews not yet scored by the live model (all of them with ``rescore``), as a job: a
    model that embeds scores 30-65 reviews/s. Poll ``/v1/jobs/{id}``; its result holds ``scored``."""
    return job_out(tasks.start(services, key.workspace_id, "reviews-score", {"rescore": rescore}))


@router.post("/sentiment/train", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def train(body: SentimentTrainRequest, services: ServicesDep, key: AdminKey) -> JobOut:
    """Train a sentiment model as a job (minutes); poll ``/v1/jobs/{id}``: its result names the version."""
    params = {**body.model_dump(), "actor": actor(key)}
    return job_out(tasks.start(services, key.workspace_id, "sentiment-train", params))


@router.get(
    "/sentiment/models/{version}/confusion.png",
    response_class=Response,
    responses=other_content("The confusion matrix", "image/png"),
)
def confusion(version: Number, services: ServicesDep, key: AdminKey) -> Response:
    """The held-out confusion matrix as a PNG."""
    found = services.sentiment.family.get(key.workspace_id, version)
    held = found.report.get("held_out") or {}
    if not held.get("reviews"):
        raise NotFound(f"v{version} has no held-out evaluation")
    png = review_charts.confusion_png(held["labels"], held["confusion"], f"v{version} held out")
    return Response(png, media_type="image/png")


add_model_routes(
    router, "/sentiment", lambda services, *_: services.sentiment, "sentiment model", PREDICTIONS
)


def _topics(found: TopicModel | None) -> TopicsOut:
    if found is None:
        return TopicsOut(topics=[])
    topics = [TopicOut(**t.__dict__) for t in found.topics]
    return TopicsOut(silhouette=found.silhouette, reviews=found.reviews, topics=topics)


@router.post("/reviews/topics", response_model=TopicsOut)
def build_topics(body: TopicsRequest, services: ServicesDep, key: AdminKey) -> TopicsOut:
    """Cluster the negative reviews into complaint topics (k chosen automatically unless given)."""
    return _topics(services.insights.build_topics(key.workspace_id, body.k))


@router.get("/reviews/topics", response_model=TopicsOut)
def topics(services: ServicesDep, key: AdminKey) -> TopicsOut:
    """The complaint topics last built, with their keywords and examples."""
    return _topics(services.insights.topics(key.workspace_id))


SummaryFormat = Literal["json", "png", "html"]


@router.get(
    "/reviews/summary",
    response_model=None,
    responses=other_content("JSON, a PNG trend chart, or an HTML page", "image/png", "text/html"),
)
def summary(
    services: ServicesDep,
    key: AdminKey,
    product: Annotated[str | None, Query(max_length=200)] = None,
    period: Literal["day", "week", "month"] = "month",
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    format: SummaryFormat = "json",
) -> dict[str, Any] | Response:
    """Per product and period: volume, satisfaction, top complaint topics, as JSON, a PNG trend chart, or
    an HTML page with the charts."""
    data = services.insights.summary(key.workspace_id, product, period, since, until)
    if format == "png":
        return Response(review_charts.trend_png(data), media_type="image/png")
    if format == "html":
        return HTMLResponse(review_charts.summary_html(data))
    return data
