"""Review analytics: import, classify, sentiment models (train as a job, gate, promote, rollback), complaint
topics and per-product summaries with charts. Classifying takes any key; the rest needs an admin key."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile, status
from fastapi.responses import HTMLResponse

from zhiwen.api.deps import AdminKey, AnyKey, ServicesDep, actor, read_upload
from zhiwen.api.routes.documents import job_out
from zhiwen.api.schemas import (
    SQL_INT_MAX,
    ClassifyRequest,
    GateThresholds,
    JobOut,
    Number,
    ReviewsImport,
    SentimentTrainRequest,
    TopicsRequest,
    other_content,
)
from zhiwen.errors import NotFound
from zhiwen.ports import ProgressCallback, ReviewFilter
from zhiwen.services import review_charts
from zhiwen.services.records import MAX_FILE_BYTES
from zhiwen.services.sentiment_train import SearchSettings
from zhiwen.types import SentimentModelVersion

router = APIRouter(prefix="/v1", tags=["reviews"])


def _model(model: SentimentModelVersion) -> dict[str, Any]:
    data = dataclasses.asdict(model)
    data["report"] = {k: v for k, v in model.report.items() if k != "predictions"}
    return data


@router.post("/reviews", status_code=status.HTTP_201_CREATED)
def import_reviews(body: ReviewsImport, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """Import up to 5,000 reviews sent as JSON. Bad rows are reported by number (from 1); the others are
    stored (and scored with the live model unless ``score`` is false)."""
    records = [r.model_dump(exclude_none=True) for r in body.reviews]
    return services.reviews.import_records(key.workspace_id, records, body.score).to_dict()


@router.post("/reviews/import", status_code=status.HTTP_201_CREATED)
def import_review_file(
    services: ServicesDep,
    key: AdminKey,
    file: Annotated[UploadFile, File(description="CSV, XLSX or JSONL with a text column")],
    score: bool = True,
) -> dict[str, Any]:
    """Import reviews from CSV, XLSX or JSONL (UTF-8 or GBK); bad rows are reported by number."""
    data = read_upload(file, MAX_FILE_BYTES)
    return services.reviews.import_file(
        key.workspace_id, file.filename or "reviews.csv", data, score
    ).to_dict()


@router.post("/reviews/conversations", status_code=status.HTTP_201_CREATED)
def import_conversations(
    services: ServicesDep, key: AdminKey, since: Annotated[str | None, Query(max_length=40)] = None
) -> dict[str, Any]:
    """Customers' messages to the assistant become reviews (channel "assistant") and are scored."""
    return services.reviews.import_conversations(key.workspace_id, since).to_dict()


@router.get("/reviews")
def list_reviews(
    services: ServicesDep,
    key: AdminKey,
    product: Annotated[str | None, Query(max_length=200)] = None,
    sentiment: Literal["negative", "neutral", "positive"] | None = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
) -> list[dict[str, Any]]:
    """Reviews filtered by product, sentiment and dates."""
    query = ReviewFilter(product=product, sentiment=sentiment, since=since, until=until, limit=limit)
    return [dataclasses.asdict(r) for r in services.reviews.list_reviews(key.workspace_id, query)]


@router.post("/reviews/classify")
def classify(body: ClassifyRequest, services: ServicesDep, key: AnyKey) -> list[dict[str, Any]]:
    """Label up to 1,000 texts with the live model (the zero-shot baseline before any is promoted), with
    the probability of each label and the words that drove the decision. Nothing is stored."""
    results = services.reviews.classify(
        key.workspace_id, [(item.text, item.product) for item in body.items], body.explain
    )
    return [dataclasses.asdict(r) for r in results]


@router.post("/reviews/score", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def score(services: ServicesDep, key: AdminKey, rescore: bool = False) -> JobOut:
    """Score stored reviews not yet scored by the live model (all of them with ``rescore``), as a job: a
    model that embeds scores 30-65 reviews/s. Poll ``/v1/jobs/{id}``; its result holds ``scored``."""
    job = services.jobs.create_job(key.workspace_id, "reviews-score")

    def work(progress: ProgressCallback) -> dict[str, object]:
        scored = services.reviews.score(
            key.workspace_id, rescore=rescore, progress=lambda _step, fraction: progress(fraction)
        )
        return {"scored": scored}

    services.job_runner.submit(job, work)
    return job_out(job)


@router.post("/sentiment/train", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def train(body: SentimentTrainRequest, services: ServicesDep, key: AdminKey) -> JobOut:
    """Train a sentiment model as a job (minutes); poll ``/v1/jobs/{id}``: its result names the version."""
    job = services.jobs.create_job(key.workspace_id, "sentiment-train")
    settings = SearchSettings(tuple(body.candidates), body.folds, max_embedded=body.max_embedded)

    def work(progress: ProgressCallback) -> dict[str, object]:
        model = services.sentiment.train(
            key.workspace_id,
            actor(key),
            settings,
            body.from_ratings,
            lambda _step, fraction: progress(fraction),
        )
        return {"version": model.version, "kind": model.kind, "held_out": model.report.get("held_out")}

    services.job_runner.submit(job, work)
    return job_out(job)


@router.get("/sentiment/models")
def models(services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """The sentiment model's versions and which one is live."""
    return {
        "live": services.sentiment.live_version(key.workspace_id),
        "models": [_model(m) for m in services.sentiment.models(key.workspace_id)],
    }


@router.get("/sentiment/models/{version}")
def model(version: Number, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """One sentiment model version with its held-out report."""
    return _model(services.sentiment.get(key.workspace_id, version))


@router.get(
    "/sentiment/models/{version}/confusion.png",
    response_class=Response,
    responses=other_content("The confusion matrix", "image/png"),
)
def confusion(version: Number, services: ServicesDep, key: AdminKey) -> Response:
    """The held-out confusion matrix as a PNG."""
    found = services.sentiment.get(key.workspace_id, version)
    held = found.report.get("held_out") or {}
    if not held.get("reviews"):
        raise NotFound(f"v{version} has no held-out evaluation")
    png = review_charts.confusion_png(held["labels"], held["confusion"], f"v{version} held out")
    return Response(png, media_type="image/png")


@router.get("/sentiment/models/{version}/gate")
def gate_check(version: Number, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """What promoting would decide, without promoting."""
    return services.sentiment.check(key.workspace_id, version)


@router.post("/sentiment/models/{version}/promote")
def promote(version: Number, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """Make it live if it passes the gate; 409 ``gate_refused`` with the failures otherwise."""
    return services.sentiment.promote(key.workspace_id, version, actor(key))


@router.post("/sentiment/rollback")
def rollback(
    services: ServicesDep, key: AdminKey, version: Annotated[int | None, Query(ge=1, le=SQL_INT_MAX)] = None
) -> dict[str, int]:
    """Make an earlier sentiment model live at once (not gated); by default the one live before."""
    return {"live": services.sentiment.rollback(key.workspace_id, actor(key), version)}


@router.get("/sentiment/gate")
def gate_policy(services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """The sentiment gate's minimums and tolerance."""
    return services.sentiment.gate_policy(key.workspace_id).to_dict()


@router.put("/sentiment/gate")
def set_gate_policy(body: GateThresholds, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """Change the sentiment gate's minimums and tolerance."""
    return services.sentiment.set_gate_policy(key.workspace_id, body.minimum, body.tolerance).to_dict()


@router.post("/reviews/topics")
def build_topics(body: TopicsRequest, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """Cluster the negative reviews into complaint topics (k chosen automatically unless given)."""
    model = services.insights.build_topics(key.workspace_id, body.k)
    return {
        "silhouette": model.silhouette,
        "reviews": model.reviews,
        "topics": [t.__dict__ for t in model.topics],
    }


@router.get("/reviews/topics")
def topics(services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """The complaint topics last built, with their keywords and examples."""
    found = services.insights.topics(key.workspace_id)
    if found is None:
        return {"topics": []}
    return {
        "silhouette": found.silhouette,
        "reviews": found.reviews,
        "topics": [t.__dict__ for t in found.topics],
    }


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
