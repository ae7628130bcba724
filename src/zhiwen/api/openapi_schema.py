"""The OpenAPI document, tidied for people: short operation ids (``create_release``), and the keys as
security schemes (so the docs page has an Authorize button) instead of two header parameters on every
operation. Authentication itself stays in :mod:`zhiwen.api.deps`; this only describes it."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

KEY_HEADERS = {"authorization", "x-api-key"}
SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A Zhiwen key: `Authorization: Bearer zw_…` (a widget key is `zw_pub_…`).",
    },
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "The same key."},
}


def _handler_name(operation_id: str, path: str, method: str) -> str:
    """FastAPI's default id is the handler's name, the path and the method, non-word characters as _."""
    suffix = re.sub(r"\W", "_", path) + "_" + method
    return operation_id[: -len(suffix)] if operation_id.endswith(suffix) else operation_id


def tidy_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema with operation ids that are the handlers' names (a tag first where two handlers
    share a name: ``intents_train``, ``recommendations_train``) and the key headers as security schemes."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
        separate_input_output_schemas=app.separate_input_output_schemas,
    )
    operations = [(p, m, op) for p, item in schema["paths"].items() for m, op in item.items()]
    names = [_handler_name(op["operationId"], p, m) for p, m, op in operations]
    counts = Counter(names)
    for (_, _, operation), name in zip(operations, names, strict=True):
        tag = re.sub(r"\W+", "_", operation.get("tags", [""])[0]).strip("_")
        operation["operationId"] = f"{tag}_{name}" if counts[name] > 1 and tag else name
    for _, _, operation in operations:
        parameters = operation.get("parameters", [])
        keyed = [p for p in parameters if p.get("in") == "header" and p["name"].lower() in KEY_HEADERS]
        if keyed:
            operation["parameters"] = [p for p in parameters if p not in keyed]
            operation["security"] = [{"apiKey": []}, {"apiKeyHeader": []}]
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    app.openapi_schema = schema
    return schema
