"""The catalogue and behaviour events that recommendations learn from. Live events take any key (the shop's
front end sends them); imports and listings need an admin key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile, status

from zhiwen.api.deps import AdminKey, AnyKey, ServicesDep, read_upload
from zhiwen.api.schemas import CatalogImportOut, CatalogItemOut, EventsIn
from zhiwen.errors import NotFound
from zhiwen.services.records import MAX_FILE_BYTES

router = APIRouter(prefix="/v1", tags=["catalogue and events"])


@router.post("/catalog/import", status_code=status.HTTP_201_CREATED, response_model=CatalogImportOut)
def import_catalog(
    services: ServicesDep,
    key: AdminKey,
    file: Annotated[UploadFile, File(description="CSV, XLSX or JSONL: item_id, title, category, price, …")],
) -> CatalogImportOut:
    """Import catalogue items from CSV, XLSX or JSONL; bad rows are reported by number."""
    data = read_upload(file, MAX_FILE_BYTES)
    return CatalogImportOut(
        **services.catalog.import_catalog(key.workspace_id, file.filename or "catalog.csv", data).to_dict()
    )


@router.get("/items", response_model=list[CatalogItemOut])
def list_items(
    services: ServicesDep, key: AdminKey, category: Annotated[str | None, Query(max_length=200)] = None
) -> list[CatalogItemOut]:
    """Catalogue items, filtered by category."""
    items = services.catalog.items(key.workspace_id)
    return [CatalogItemOut(**i.__dict__) for i in items if category in (None, i.category)]


@router.get("/items/{item_id}", response_model=CatalogItemOut)
def get_item(item_id: str, services: ServicesDep, key: AnyKey) -> CatalogItemOut:
    """One catalogue item."""
    found = services.catalog.items(key.workspace_id, [item_id])
    if not found:
        raise NotFound(f"no item {item_id!r} in the catalogue")
    return CatalogItemOut(**found[0].__dict__)


@router.post("/events/import", status_code=status.HTTP_201_CREATED, response_model=CatalogImportOut)
def import_events(
    services: ServicesDep,
    key: AdminKey,
    file: Annotated[
        UploadFile, File(description="CSV, XLSX or JSONL: user_id, item_id, event, weight, timestamp")
    ],
) -> CatalogImportOut:
    """Import behaviour events (views, carts, purchases, ratings) from a file; MovieLens files as they are."""
    data = read_upload(file, MAX_FILE_BYTES)
    return CatalogImportOut(
        **services.catalog.import_events(key.workspace_id, file.filename or "events.csv", data).to_dict()
    )


@router.post("/events", status_code=status.HTTP_201_CREATED, response_model=CatalogImportOut)
def add_events(body: EventsIn, services: ServicesDep, key: AnyKey) -> CatalogImportOut:
    """Up to 1,000 live events; bad ones come back in ``problems`` with their position (from 1)."""
    records = [e.model_dump(exclude_none=True) for e in body.events]
    return CatalogImportOut(**services.catalog.add_events(key.workspace_id, records).to_dict())
