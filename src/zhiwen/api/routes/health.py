"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zhiwen.api.deps import MetricsDep, ServicesDep, admin_key, current_key
from zhiwen.errors import BackendUnavailable

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: ServicesDep) -> dict[str, object]:
    """The store answers and the embedder is loaded; also reports chunks still waiting for embeddings."""
    try:
        pending = services.documents.count_chunks_needing_vectors()
    except Exception as error:
        raise BackendUnavailable(f"the store is not answering: {error}") from None
    return {
        "status": "ready",
        "embedder": services.embedder.name,
        "pending_embeddings": pending,
        "llm": services.llm.name if services.llm else None,
    }


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, metrics: MetricsDep, services: ServicesDep) -> Response:
    """Prometheus metrics. They name routes, workspaces' traffic and error rates, so they need an admin
    key (Prometheus sends one with ``authorization: {credentials: zw_…}``) unless
    ``ZHIWEN_METRICS_PUBLIC=true``."""
    if not services.settings.metrics_public:
        key = current_key(request, request.headers.get("authorization"), request.headers.get("x-api-key"))
        admin_key(key)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
