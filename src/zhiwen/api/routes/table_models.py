"""Custom models on a company's tables: profile a file, create a model and train versions (jobs), the shared
lifecycle (versions, gate, promote, rollback, history), predictions with the columns that drove them, the
prediction log, input drift, and the calibration and importance charts. All need an admin key.

``GET /v1/models`` stays the OpenAI-compatible list; table models are listed at ``GET /v1/custom-models``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from zhiwen import tasks
from zhiwen.api.deps import AdminKey, ServicesDep, actor, read_upload
from zhiwen.api.routes.documents import job_out
from zhiwen.api.routes.model_routes import add_model_routes
from zhiwen.api.schemas import (
    JobOut,
    Number,
    TableDriftOut,
    TableModelName,
    TableModelOut,
    TablePredictionOut,
    TablePredictOut,
    TablePredictRequest,
    other_content,
)
from zhiwen.services.models import charts
from zhiwen.services.models.service import TableModels
from zhiwen.services.models.train import DEFAULT_BUDGET_SECONDS
from zhiwen.services.records import MAX_FILE_BYTES

router = APIRouter(prefix="/v1", tags=["table models"])
TableFile = Annotated[UploadFile, File(description="CSV, XLSX or JSONL, UTF-8 or GBK, a header row first")]
Budget = Annotated[float, Form(ge=5, le=3600, description="seconds for the search of settings")]
Promote = Annotated[bool, Form(description="promote the new version if it passes the gate")]
Trials = Annotated[
    int | None, Form(ge=1, le=1000, description="at most this many trials per candidate (reproducible)")
]


def _drop(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def _model_out(models: TableModels, workspace_id: str, name: str) -> TableModelOut:
    definition = models.definition(workspace_id, name)
    family = models.named(workspace_id, name).family
    return TableModelOut(
        name=name,
        target=definition["target"],
        task=definition["task"],
        drop=definition.get("drop", []),
        created_by=definition["created_by"],
        created_at=definition["created_at"],
        live=family.live_version(workspace_id),
        versions=len(family.versions(workspace_id)),
    )


@router.post("/models/profile")
def profile(
    services: ServicesDep,
    key: AdminKey,
    file: TableFile,
    target: Annotated[str, Form(min_length=1, max_length=200, description="the column to predict")],
    drop: Annotated[str, Form(max_length=5000, description="columns to leave out, comma-separated")] = "",
) -> dict[str, object]:
    """What Zhiwen sees in the table before training: each column's kind and missing values, the task,
    likely leakage, warnings; 400 with the reason when nothing can be learned."""
    data = read_upload(file, MAX_FILE_BYTES)
    return services.table_models.profile(file.filename or "table.csv", data, target, _drop(drop)).to_dict()


@router.post("/models", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def create(
    services: ServicesDep,
    key: AdminKey,
    file: TableFile,
    name: Annotated[TableModelName, Form()],
    target: Annotated[str, Form(min_length=1, max_length=200, description="the column to predict")],
    drop: Annotated[str, Form(max_length=5000, description="columns to leave out, comma-separated")] = "",
    budget_seconds: Budget = DEFAULT_BUDGET_SECONDS,
    max_trials: Trials = None,
    promote: Promote = False,
) -> JobOut:
    """Create a table model and train its first version as a job; poll ``/v1/jobs/{id}``. The table is
    checked first: a bad file, an unknown target or a name in use is refused here, not in the job."""
    data = read_upload(file, MAX_FILE_BYTES)
    filename = file.filename or "table.csv"
    models = services.table_models
    models.check_new(key.workspace_id, name, filename, data, target, _drop(drop))
    params = {
        "name": name,
        "filename": filename,
        "target": target,
        "drop": _drop(drop),
        "actor": actor(key),
        "budget_seconds": budget_seconds,
        "max_trials": max_trials,
        "promote": promote,
    }
    job = tasks.start(services, key.workspace_id, "table-model-create", params, {"table": data})
    return job_out(job)


@router.get("/custom-models", response_model=list[TableModelOut])
def list_models(services: ServicesDep, key: AdminKey) -> list[TableModelOut]:
    """The workspace's table models with their live version."""
    models = services.table_models
    return [
        _model_out(models, key.workspace_id, name) for name in sorted(models.definitions(key.workspace_id))
    ]


@router.get("/models/{name}", response_model=TableModelOut)
def show(name: TableModelName, services: ServicesDep, key: AdminKey) -> TableModelOut:
    """One table model: its target, task, dropped columns, live version and number of versions."""
    return _model_out(services.table_models, key.workspace_id, name)


@router.delete("/models/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete(name: TableModelName, services: ServicesDep, key: AdminKey) -> Response:
    """Forget the model and its prediction log (its versions stay on record)."""
    services.table_models.delete(key.workspace_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/models/{name}/train", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def train(
    name: TableModelName,
    services: ServicesDep,
    key: AdminKey,
    file: TableFile,
    budget_seconds: Budget = DEFAULT_BUDGET_SECONDS,
    max_trials: Trials = None,
    promote: Promote = False,
) -> JobOut:
    """Train a new version from a (new or grown) table with the same target, as a job."""
    data = read_upload(file, MAX_FILE_BYTES)
    services.table_models.definition(key.workspace_id, name)  # 404 now, not in the job
    params = {
        "name": name,
        "filename": file.filename or "table.csv",
        "actor": actor(key),
        "budget_seconds": budget_seconds,
        "max_trials": max_trials,
        "promote": promote,
    }
    job = tasks.start(services, key.workspace_id, "table-model-train", params, {"table": data})
    return job_out(job)


@router.post("/models/{name}/predict", response_model=TablePredictOut)
def predict(
    name: TableModelName, body: TablePredictRequest, services: ServicesDep, key: AdminKey
) -> TablePredictOut:
    """Predict one row or a batch with the live version (or ``version``): the prediction, its probability,
    the columns that drove it, and warnings such as a category never seen in training. A missing column
    or a value of the wrong type is refused with the row and the column named."""
    version, predictions = services.table_models.predict(
        key.workspace_id, name, body.rows, body.version, body.explain
    )
    return TablePredictOut(
        model=name, version=version, predictions=[TablePredictionOut(**p.to_dict()) for p in predictions]
    )


@router.get("/models/{name}/predictions")
def predictions(
    name: TableModelName,
    services: ServicesDep,
    key: AdminKey,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, object]]:
    """The latest logged predictions with their inputs, newest first."""
    return services.table_models.predictions(key.workspace_id, name, limit)


@router.get("/models/{name}/drift", response_model=TableDriftOut)
def drift(
    name: TableModelName,
    services: ServicesDep,
    key: AdminKey,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> TableDriftOut:
    """The live version's latest inputs against its training rows, column by column (PSI)."""
    return TableDriftOut(**services.table_models.drift(key.workspace_id, name, limit))


@router.get(
    "/models/{name}/versions/{version}/{chart}.png",
    response_class=Response,
    responses=other_content("The chart as a PNG", "image/png"),
)
def chart(
    name: TableModelName,
    version: Number,
    chart: Literal["calibration", "importance"],
    services: ServicesDep,
    key: AdminKey,
) -> Response:
    """``calibration``: predicted probability against the share observed on the held-out rows (two classes);
    ``importance``: how much the held-out figure falls when each column is shuffled."""
    found = services.table_models.named(key.workspace_id, name).family.get(key.workspace_id, version)
    png = charts.CHARTS[chart](found.report, f"{name} v{version}, held out")
    return Response(png, media_type="image/png")


def _model_name(name: TableModelName) -> str:
    return name


add_model_routes(
    router,
    "/models/{name}",
    lambda services, workspace_id, name: services.table_models.named(workspace_id, name),
    "table model",
    collection="versions",
    scope=_model_name,
)
