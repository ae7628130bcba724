"""Long work as jobs that any process can run: training, scoring, tuning, and uploads sent to a queue.

A job is stored with everything its task needs (its parameters, and the files it was given until it ends),
so whoever runs it needs only its id: a thread of the API process that took the request
(:class:`zhiwen.adapters.jobs.ThreadJobRunner`), or a ``zhiwen worker`` process on any machine fed by Redis
(:mod:`zhiwen.adapters.redis_jobs`). Each task writes its result in one transaction at its end, so a worker
killed mid-job leaves nothing half-written: the job is simply run again.

A job that a queue may hand out twice (Redis gives a killed worker's message to another) is run once:
:func:`execute` takes it with a compare-and-set on its status and holder, and while it runs its holder
touches it every few seconds; a copy that finds it running and recently touched waits (:class:`Busy`, which
the queue retries later) instead of running it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from zhiwen.errors import BackendUnavailable, ZhiwenError
from zhiwen.ports import JobRunner, JobStore, ProgressCallback
from zhiwen.services.lifecycle.model_family import promoted_if_passing
from zhiwen.services.models.train import TrainSettings, overall_progress
from zhiwen.services.reviews.sentiment_train import SearchSettings
from zhiwen.services.vision.photos import read_archive
from zhiwen.types import Job

if TYPE_CHECKING:
    from zhiwen.wiring import Services

log = logging.getLogger(__name__)

Params = Mapping[str, Any]
Task = Callable[["Services", Job, Params, Mapping[str, bytes], ProgressCallback], dict[str, object]]
TASKS: dict[str, Task] = {}


MAX_TAKEOVERS = 2  # a job runs at most three times when its workers die


class Busy(Exception):
    """The job is running in a process that is still alive: try again later (the queue retries)."""


def task(kind: str) -> Callable[[Task], Task]:
    def register(function: Task) -> Task:
        TASKS[kind] = function
        return function

    return register


def start(
    services: Services,
    workspace_id: str,
    kind: str,
    params: Params,
    inputs: Mapping[str, bytes] | None = None,
) -> Job:
    """Store the job and hand it to the runner; the caller answers 202 with it."""
    if kind not in TASKS:
        raise ValueError(f"no task for jobs of kind {kind!r}")
    job = services.jobs.create_job(
        workspace_id, kind, params=params, inputs=inputs, runner=services.job_runner.holder
    )
    submit(services.jobs, services.job_runner, job)
    return job


def submit(jobs: JobStore, runner: JobRunner, job: Job) -> None:
    """Hand the stored job to the runner; if the queue cannot take it, the job fails (its files go) and
    the caller gets a 503 saying so, rather than a job that waits forever."""
    try:
        runner.submit(job)
    except Exception as error:
        reason = f"the job queue could not take the job ({type(error).__name__}); try again later"
        jobs.update_job(job.id, status="failed", error=reason)
        raise BackendUnavailable(reason) from error


def execute(services: Services, job_id: str, runner: str, last_try: bool = True) -> None:
    """Run the job if nobody else is: record its progress and its outcome. An unexpected error fails it on
    the ``last_try``; before that the job goes back to the queue and the error is raised for a retry."""
    jobs = services.jobs
    job = jobs.find_job(job_id)
    if job is None or job.status in ("succeeded", "failed"):
        return  # done already (a copy of its message), or its workspace was deleted
    dead_after = services.settings.worker_dead_after_seconds
    if job.status == "running" and job.runner != runner and _touched_within(job, dead_after):
        raise Busy(f"job {job_id} is running in {job.runner}")
    taken = jobs.take_job(job_id, runner, job)
    if taken is None:
        raise Busy(f"job {job_id} was taken by another worker")
    if taken.takeovers > MAX_TAKEOVERS:  # its workers died on it: it may be what kills them
        jobs.update_job(
            job_id,
            status="failed",
            error=f"the worker stopped {taken.takeovers} times while running this job; check its input"
            " and start it again",
        )
        return
    with _touching(jobs, job_id, every=dead_after / 4):
        try:
            result = TASKS[taken.kind](
                services,
                taken,
                taken.params or {},
                jobs.job_inputs(job_id),
                lambda fraction: jobs.update_job(job_id, progress=round(fraction, 4)),
            )
        except ZhiwenError as error:
            jobs.update_job(job_id, status="failed", error=error.message)
        except Exception as error:
            if last_try:
                log.exception("job %s failed", job_id)
                jobs.update_job(job_id, status="failed", error=f"internal error: {type(error).__name__}")
                return
            log.warning("job %s failed (%s); it will be tried again", job_id, type(error).__name__)
            jobs.update_job(job_id, status="queued", progress=0.0)
            raise
        else:
            jobs.update_job(job_id, status="succeeded", progress=1.0, result=result)


def _touched_within(job: Job, seconds: float) -> bool:
    updated = datetime.fromisoformat(job.updated_at.replace("Z", "+00:00"))
    return datetime.now(updated.tzinfo) - updated < timedelta(seconds=seconds)


@contextmanager
def _touching(jobs: JobStore, job_id: str, every: float) -> Iterator[None]:
    """Touch the job every ``every`` seconds while it runs: proof to other workers that it is alive."""
    done = threading.Event()

    def touch() -> None:
        while not done.wait(every):
            try:
                jobs.update_job(job_id)
            except Exception:  # the store busy for a moment: the next touch will do
                log.warning("could not touch job %s", job_id, exc_info=True)

    toucher = threading.Thread(target=touch, name=f"touch-{job_id}", daemon=True)
    toucher.start()
    try:
        yield
    finally:
        done.set()
        toucher.join()


def _promoted(family: Any, job: Job, params: Params, version: int) -> dict[str, object]:
    """The gate's verdict when the job was asked to promote what it trained."""
    if not params.get("promote"):
        return {}
    return {"gate": promoted_if_passing(family, job.workspace_id, version, str(params["actor"]))}


@task("ingest")
def _ingest(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    files = services.ingest_jobs.ingest_files(
        job, params["names"], params["tags"], lambda number: inputs[f"{number:04d}"], progress
    )
    return {"files": files}


@task("tune")
def _tune(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    result = services.tuner.tune(
        job.workspace_id,
        params["golden"],
        params["actor"],
        params["trials"],
        lambda stage, done, total: progress(done / max(total, 1)) if stage == "trial" else None,
    )
    return dict(result)


@task("rerank-train")
def _rerank_train(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    return dict(
        services.tuner.train_reranker(
            job.workspace_id, params["golden"], lambda done, total: progress(done / max(total, 1))
        )
    )


@task("reviews-score")
def _reviews_score(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    scored = services.reviews.score(
        job.workspace_id, rescore=params["rescore"], progress=lambda _step, fraction: progress(fraction)
    )
    return {"scored": scored}


@task("sentiment-train")
def _sentiment_train(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    settings = SearchSettings(
        tuple(params["candidates"]), params["folds"], max_embedded=params["max_embedded"]
    )
    model = services.sentiment.train(
        job.workspace_id,
        params["actor"],
        settings,
        params["from_ratings"],
        lambda _step, fraction: progress(fraction),
    )
    return {"version": model.version, "kind": model.kind, "held_out": model.report.get("held_out")}


@task("intent-train")
def _intent_train(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    model = services.intents.train(
        job.workspace_id, params["actor"], lambda _s, done, total: progress(done / max(total, 1))
    )
    return {
        "version": model.version,
        "held_out": model.report["held_out"],
        **_promoted(services.intents, job, params, model.version),
    }


@task("recommender-train")
def _recommender_train(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    model = services.recommenders.train(
        job.workspace_id,
        params["actor"],
        params["candidates"],
        lambda _s, done, total: progress(done / max(total, 1)),
    )
    return {
        "version": model.version,
        "kind": model.kind,
        "test": model.report["test"],
        **_promoted(services.recommenders, job, params, model.version),
    }


@task("recognizer-train")
def _recognizer_train(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    photos = read_archive(params["photos"], inputs["photos"])
    separate = read_archive(params["held_out"], inputs["held_out"]) if "held_out" in inputs else []
    version = services.vision.train(
        job.workspace_id,
        photos,
        params["actor"],
        separate,
        lambda step, done, total: progress(0.9 * done / max(total, 1) if step == "read photos" else 0.95),
    )
    return {
        "version": version.version,
        "chosen": version.params["candidate"],
        "held_out": version.report["held_out"],
        **_promoted(services.vision, job, params, version.version),
    }


def _table_settings(params: Params) -> TrainSettings:
    return TrainSettings(budget_seconds=params["budget_seconds"], max_trials=params["max_trials"])


def _table_result(services: Services, job: Job, params: Params, version: Any) -> dict[str, object]:
    named = services.table_models.named(job.workspace_id, params["name"])
    return {
        "model": params["name"],
        "version": version.version,
        "chosen": version.kind,
        "held_out": version.report.get("held_out"),
        **_promoted(named, job, params, version.version),
    }


@task("table-model-create")
def _table_model_create(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    version = services.table_models.create(
        job.workspace_id,
        params["name"],
        params["filename"],
        inputs["table"],
        params["target"],
        params["actor"],
        params["drop"],
        _table_settings(params),
        lambda step, done: progress(overall_progress(step, done)),
    )
    return _table_result(services, job, params, version)


@task("table-model-train")
def _table_model_train(
    services: Services, job: Job, params: Params, inputs: Mapping[str, bytes], progress: ProgressCallback
) -> dict[str, object]:
    version = services.table_models.train(
        job.workspace_id,
        params["name"],
        params["filename"],
        inputs["table"],
        params["actor"],
        _table_settings(params),
        lambda step, done: progress(overall_progress(step, done)),
    )
    return _table_result(services, job, params, version)
