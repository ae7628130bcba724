"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST

from zhiwen.api.deps import AdminKey, MetricsDep, ServicesDep, admin_key, current_key
from zhiwen.api.schemas import BackendOut
from zhiwen.errors import BackendUnavailable
from zhiwen.services.backends import checked
from zhiwen.wiring import described_backends

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
    services.embedder.embed_queries(["ready"])  # loads the bundled model (about 1 s, once); then cached
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
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/backends", response_model=list[BackendOut])
def backends(services: ServicesDep, key: AdminKey) -> list[BackendOut]:
    """The embedding model and the LLM this server runs with (set by ``ZHIWEN_EMBED_*`` and
    ``ZHIWEN_LLM_*``; API keys are never shown)."""
    return [BackendOut(**dataclasses.asdict(b)) for b in described_backends(services.settings)]


@router.post("/v1/backends/check", response_model=list[BackendOut])
async def check_backends(services: ServicesDep, key: AdminKey) -> list[BackendOut]:
    """Test the connections: one short embedding and a two-token LLM reply, each with its time or its
    error."""
    found = await run_in_threadpool(
        checked, described_backends(services.settings), services.embedder, services.llm
    )
    return [BackendOut(**dataclasses.asdict(b)) for b in found]
