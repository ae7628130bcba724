"""Evaluation runs and reports, releases and the gate, tuning, working settings (admin keys only)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from zhiwen import tasks
from zhiwen.api.deps import AdminKey, ServicesDep, actor
from zhiwen.api.routes.documents import job_out
from zhiwen.api.schemas import (
    CreatedReleaseOut,
    ErrorResponse,
    EvalComparisonOut,
    EvalRequest,
    EvalRunDetailOut,
    EvalRunOut,
    GateThresholds,
    HandoffCurveOut,
    JobOut,
    Number,
    PrunedOut,
    PruneRequest,
    ReleaseCreate,
    ReleaseEventOut,
    ReleaseGateOut,
    ReleaseOut,
    RerankTrainRequest,
    RollbackRequest,
    SynonymsAdd,
    SynonymsChangedOut,
    SynonymsOut,
    SynonymsReplace,
    TuneRequest,
    other_content,
)
from zhiwen.errors import InvalidInput
from zhiwen.services.answers.synonyms import said_key
from zhiwen.services.knowledge.vocabulary import synonym_warnings
from zhiwen.services.lifecycle import report
from zhiwen.services.lifecycle.evaluate import handoff_curve
from zhiwen.services.lifecycle.release import release_summary
from zhiwen.services.lifecycle.targets import RERANKER_SETTING
from zhiwen.wiring import Services

router = APIRouter(prefix="/v1", tags=["evaluation and releases"])


@router.post("/eval/runs", status_code=status.HTTP_201_CREATED, response_model=EvalRunOut)
def run_evaluation(body: EvalRequest, services: ServicesDep, key: AdminKey) -> EvalRunOut:
    """Evaluate the working knowledge (default), a release, or the live release on a golden set."""
    if body.release is not None and body.live:
        raise InvalidInput("give release or live, not both")
    if body.release is not None:
        target = services.targets.of_release(services.releases.get(key.workspace_id, body.release))
    else:
        target = (
            services.targets.live(key.workspace_id)
            if body.live
            else services.targets.working(key.workspace_id)
        )
    run = services.evaluator.run(target, body.golden, body.version, body.split)
    return EvalRunOut(**dataclasses.asdict(run))


@router.get("/eval/runs", response_model=list[EvalRunOut])
def list_evaluations(services: ServicesDep, key: AdminKey) -> list[EvalRunOut]:
    """The latest 50 evaluation runs with their summaries, the newest first."""
    return [EvalRunOut(**dataclasses.asdict(r)) for r in services.evaluator.list_runs(key.workspace_id)]


@router.get("/eval/runs/{run_id}", response_model=EvalRunDetailOut)
def get_evaluation(run_id: str, services: ServicesDep, key: AdminKey) -> EvalRunDetailOut:
    """One evaluation run with its per-question results."""
    run, results = services.evaluator.get(key.workspace_id, run_id)
    return EvalRunDetailOut(**dataclasses.asdict(run), results=results)


@router.get(
    "/eval/runs/{run_id}/report",
    response_class=Response,
    responses=other_content("The report as a page with plots, or Markdown", "text/html", "text/markdown"),
)
def evaluation_report(
    run_id: str, services: ServicesDep, key: AdminKey, format: Literal["html", "md"] = "html"
) -> Response:
    """HTML with plots (confidence, reliability, per category), or Markdown."""
    run, results = services.evaluator.get(key.workspace_id, run_id)
    if format == "md":
        return PlainTextResponse(report.markdown(run, results), media_type="text/markdown; charset=utf-8")
    return HTMLResponse(report.html_report(run, results))


@router.get("/eval/runs/{run_id}/curve", response_model=HandoffCurveOut)
def evaluation_curve(run_id: str, services: ServicesDep, key: AdminKey) -> HandoffCurveOut:
    """Every handoff threshold from 0 to 1 in steps of 0.01 replayed on this run's questions: the share
    that would go to a person, the accuracy of the answered ones and answer accuracy overall."""
    run, results = services.evaluator.get(key.workspace_id, run_id)
    return HandoffCurveOut(**handoff_curve(run, results))


@router.get("/eval/compare", response_model=EvalComparisonOut)
def compare_evaluations(
    services: ServicesDep, key: AdminKey, before: Annotated[str, Query()], after: Annotated[str, Query()]
) -> EvalComparisonOut:
    """Question by question: what got better and what got worse between two runs."""
    return EvalComparisonOut(**services.evaluator.compare(key.workspace_id, before, after))


@router.get("/eval/thresholds", response_model=GateThresholds)
def get_thresholds(services: ServicesDep, key: AdminKey) -> GateThresholds:
    """The release gate's minimums and tolerance."""
    return GateThresholds(**services.releases.gate_policy(key.workspace_id).to_dict())


@router.put("/eval/thresholds", response_model=GateThresholds)
def set_thresholds(body: GateThresholds, services: ServicesDep, key: AdminKey) -> GateThresholds:
    """Change the release gate's minimums and tolerance."""
    policy = services.releases.set_gate_policy(key.workspace_id, body.minimum, body.tolerance)
    return GateThresholds(**policy.to_dict())


@router.post(
    "/releases",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedReleaseOut,
    responses={409: {"model": ErrorResponse, "description": "Chunks are still waiting for their embeddings"}},
)
def create_release(body: ReleaseCreate, services: ServicesDep, key: AdminKey) -> CreatedReleaseOut:
    """Freeze the working knowledge, settings and models as the next release; evaluate it when a golden set
    is named. Customers see nothing until it is promoted. Refused with 409 while the worker is still
    embedding this workspace's new chunks (see ``pending_embeddings`` in /readyz)."""
    release, run = services.releases.create(
        key.workspace_id, actor(key), body.golden, body.settings, note=body.note, embed_pending=False
    )
    evaluation = EvalRunOut(**dataclasses.asdict(run)) if run else None
    return CreatedReleaseOut(**release_summary(release), evaluation=evaluation)


@router.get("/releases", response_model=list[ReleaseOut])
def list_releases(services: ServicesDep, key: AdminKey) -> list[ReleaseOut]:
    """Every release with its settings, size and whether it is live."""
    live = services.releases.live(key.workspace_id)
    return [ReleaseOut(**release_summary(r, live)) for r in services.releases.list_releases(key.workspace_id)]


@router.get("/releases/history", response_model=list[ReleaseEventOut])
def release_history(services: ServicesDep, key: AdminKey) -> list[ReleaseEventOut]:
    """Promotions, refusals, rollbacks and prunings, the latest first."""
    return [ReleaseEventOut(**e) for e in services.releases.history(key.workspace_id)]


@router.get("/releases/{number}", response_model=ReleaseOut)
def get_release(number: Number, services: ServicesDep, key: AdminKey) -> ReleaseOut:
    """One release with its settings, size and whether it is live."""
    return ReleaseOut(
        **release_summary(
            services.releases.get(key.workspace_id, number), services.releases.live(key.workspace_id)
        )
    )


@router.get("/releases/{number}/gate", response_model=ReleaseGateOut)
def check_gate(number: Number, services: ServicesDep, key: AdminKey) -> ReleaseGateOut:
    """Would this release pass the gate? (The same check promote makes, without promoting.)"""
    return ReleaseGateOut(**services.releases.check(key.workspace_id, number).to_dict())


@router.post("/releases/{number}/promote", response_model=ReleaseGateOut)
def promote_release(number: Number, services: ServicesDep, key: AdminKey) -> ReleaseGateOut:
    """Make the release live if it passes the gate; otherwise 409 ``gate_refused`` with the reasons and the
    questions that got worse in ``error.details``."""
    return ReleaseGateOut(**services.releases.promote(key.workspace_id, number, actor(key)).to_dict())


@router.post("/releases/rollback", response_model=ReleaseOut)
def rollback_release(body: RollbackRequest, services: ServicesDep, key: AdminKey) -> ReleaseOut:
    """Make an earlier release live again at once (not gated)."""
    release = services.releases.rollback(key.workspace_id, actor(key), body.release)
    return ReleaseOut(**release_summary(release, release))


@router.post("/releases/prune", response_model=PrunedOut)
def prune_releases(body: PruneRequest, services: ServicesDep, key: AdminKey) -> PrunedOut:
    """Delete the frozen knowledge of releases that are neither live nor among the newest ``keep``."""
    return PrunedOut(pruned=services.releases.prune(key.workspace_id, actor(key), body.keep))


@router.post("/tune", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def tune(body: TuneRequest, services: ServicesDep, key: AdminKey) -> JobOut:
    """Start tuning as a job (minutes); poll ``/v1/jobs/{id}``: its result names the proposed release."""
    params = {"golden": body.golden, "actor": actor(key), "trials": body.trials}
    return job_out(tasks.start(services, key.workspace_id, "tune", params))


@router.post("/rerank/train", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def train_reranker(body: RerankTrainRequest, services: ServicesDep, key: AdminKey) -> JobOut:
    """Train the learned re-ranker on a golden set's tuning split as a job; it joins the working settings
    and the next release freezes it (the gate judges it on the held-out split)."""
    return job_out(tasks.start(services, key.workspace_id, "rerank-train", {"golden": body.golden}))


@router.delete("/rerank", status_code=status.HTTP_204_NO_CONTENT)
def remove_reranker(services: ServicesDep, key: AdminKey) -> Response:
    """Take the re-ranker out of the working settings (the live release keeps its own until replaced)."""
    services.targets.save_model(key.workspace_id, RERANKER_SETTING, None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/settings")
def working_settings(services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """The working settings (what the next release freezes) and which models they use."""
    return services.targets.working_config(key.workspace_id).summary()


@router.patch("/settings")
def change_settings(body: dict[str, str], services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """Change working settings (strings converted to each setting's type); the next release freezes them."""
    config = services.targets.working_config(key.workspace_id).with_overrides(body)
    services.targets.save_working_config(key.workspace_id, config)
    return config.settings()


def _synonyms_out(
    services: Services, workspace_id: str, stored: dict[str, str], changes: Mapping[str, str] | None = None
) -> SynonymsOut:
    live = services.releases.live(workspace_id)
    number = live.number if live else None
    if changes is None:
        return SynonymsOut(synonyms=stored, live_release=number)
    warnings = synonym_warnings(services.retriever, workspace_id, changes)
    return SynonymsChangedOut(synonyms=stored, live_release=number, warnings=warnings)


@router.get("/synonyms", response_model=SynonymsOut)
def synonyms(services: ServicesDep, key: AdminKey) -> SynonymsOut:
    """The working synonyms: the words customers use → the words the documents use. A question is searched
    and read in the documents' words; the next release freezes them. PUT takes this body back."""
    return _synonyms_out(services, key.workspace_id, services.targets.synonyms(key.workspace_id))


@router.put("/synonyms", response_model=SynonymsChangedOut)
def replace_synonyms(body: SynonymsReplace, services: ServicesDep, key: AdminKey) -> SynonymsOut:
    """Replace every synonym (checked whole first: a bad entry changes nothing); ``warnings`` name new or
    changed ones that may hurt answers."""
    before = services.targets.synonyms(key.workspace_id)
    stored = services.targets.save_synonyms(key.workspace_id, body.synonyms)
    changed = {said: written for said, written in stored.items() if before.get(said) != written}
    return _synonyms_out(services, key.workspace_id, stored, changed)


@router.post("/synonyms", response_model=SynonymsChangedOut)
def add_synonyms(body: SynonymsAdd, services: ServicesDep, key: AdminKey) -> SynonymsOut:
    """Add customers' words for one word of the documents; returns every synonym, and ``warnings`` about
    the ones added."""
    stored = services.targets.add_synonyms(key.workspace_id, body.said, body.written)
    added = {said_key(w): stored[said_key(w)] for w in body.said}
    return _synonyms_out(services, key.workspace_id, stored, added)


@router.delete("/synonyms/{said:path}", response_model=SynonymsOut)
def remove_synonym(
    said: Annotated[str, Path(max_length=50)], services: ServicesDep, key: AdminKey
) -> SynonymsOut:
    """Forget one customer's word; 404 when there is no such synonym."""
    stored = services.targets.remove_synonyms(key.workspace_id, [said])
    return _synonyms_out(services, key.workspace_id, stored)
