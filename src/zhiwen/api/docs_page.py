"""The API's docs page (Swagger UI 5, which reads OpenAPI 3.1) with its assets served by Zhiwen from the
``fastapi-swagger`` wheel: FastAPI's default loads them from a CDN, which leaves the page blank on a network
without internet."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from zhiwen.errors import NotFound

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def inline_script_hashes(page: str) -> str:
    """CSP sources allowing exactly the page's own inline scripts."""
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts
    )


def add_docs_page(app: FastAPI, path: str = "/docs") -> None:
    page = bytes(
        get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} · docs",
            swagger_js_url=f"{path}/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{path}/assets/swagger-ui.css",
            swagger_favicon_url=f"{path}/assets/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        ).body
    ).decode()
    policy = (
        f"default-src 'none'; script-src 'self' {inline_script_hashes(page)};"
        " style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self';"
        " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    bundled = resources.files("fastapi_swagger") / "resources"
    assets = {name: (bundled / name).read_bytes() for name in ASSETS}

    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"content-security-policy": policy})

    def asset(name: str) -> Response:
        if name not in assets:
            raise NotFound(f"no docs asset {name!r}")
        return Response(
            assets[name], media_type=ASSETS[name], headers={"cache-control": "public, max-age=86400"}
        )

    app.add_api_route(path, docs, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{path}/assets/{{name}}", asset, methods=["GET"], include_in_schema=False)
