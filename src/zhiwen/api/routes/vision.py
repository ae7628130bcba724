"""Products in photos: recognise one (any key: the shop's front end may call it), and the recogniser's
versions (admin): train from a zip of labelled photos (a job), then the shared lifecycle (versions, gate,
promote, rollback, history)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from zhiwen import tasks
from zhiwen.api.deps import AdminKey, AnyKey, ServicesDep, actor, read_upload
from zhiwen.api.routes.ask import photo_bytes
from zhiwen.api.routes.documents import job_out
from zhiwen.api.routes.model_routes import add_model_routes
from zhiwen.api.schemas import JobOut, ProductGuessOut, RecognitionOut, RecognizeRequest
from zhiwen.services.vision.photos import read_archive

router = APIRouter(prefix="/v1", tags=["vision"])
PhotoArchive = Annotated[
    UploadFile,
    File(
        description="A zip with a folder per product (its name is the label), or a labels.csv of path,label"
    ),
]


@router.post("/images/recognize", response_model=RecognitionOut)
async def recognize(body: RecognizeRequest, services: ServicesDep, key: AnyKey) -> RecognitionOut:
    """The product in a photo (the live recogniser's five likeliest, with probabilities) and the text in it.
    Without a live recogniser, ``product`` is null and only the text is read."""
    seen = await run_in_threadpool(
        services.vision.recognize, key.workspace_id, "image", photo_bytes(body.image), body.read_text
    )
    return RecognitionOut(
        product=seen.product,
        probability=round(seen.probability, 4),
        top=[ProductGuessOut(product=p, probability=round(q, 4)) for p, q in seen.top],
        text=seen.text,
        version=seen.version,
    )


@router.post("/vision/train", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def train(
    services: ServicesDep,
    key: AdminKey,
    file: PhotoArchive,
    held_out: Annotated[
        UploadFile | None,
        File(description="optional: a separate zip of photos to measure on (else a fifth is held out)"),
    ] = None,
    promote: Annotated[bool, Form(description="promote the new version if it passes the gate")] = False,
) -> JobOut:
    """Train a recogniser version as a job; poll ``/v1/jobs/{id}``. The archives are checked first: one
    that is not a zip, holds no photos, one product or too few photos of one, or held-out photos of a
    product not trained on, is refused here, not in the job. Uploads are limited like documents
    (``ZHIWEN_MAX_UPLOAD_BYTES``, 50 MB by default); train larger photo sets with the CLI."""
    limit = services.settings.max_upload_bytes  # the request as a whole is held to it too
    # Each archive's name (params) and bytes (inputs) under the same key, as the task reads them.
    uploads = {"photos": (file, "photos.zip"), "held_out": (held_out, "held_out.zip")}
    names = {k: upload.filename or default for k, (upload, default) in uploads.items() if upload is not None}
    inputs = {k: read_upload(upload, limit) for k, (upload, _) in uploads.items() if upload is not None}
    archives = {k: read_archive(names[k], data) for k, data in inputs.items()}
    services.vision.check_photos(archives["photos"], archives.get("held_out", []))
    params = {"actor": actor(key), "promote": promote, **names}
    return job_out(tasks.start(services, key.workspace_id, "recognizer-train", params, inputs))


add_model_routes(router, "/vision", lambda services, *_: services.vision, "product recogniser")
