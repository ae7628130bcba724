"""The app each API process of `zhiwen serve --processes N` runs: uvicorn imports it by name in every
process it starts, so it is built here from the environment the parent set (``ZHIWEN_DATA_DIR`` and the
rest of the settings). These processes only serve; the parent does the work one process per database
must (:mod:`zhiwen.api.duties`)."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from zhiwen.api.app import create_app
from zhiwen.api.observability import configure_json_logging
from zhiwen.config import Settings
from zhiwen.wiring import build_services


def api_only_app() -> FastAPI:
    configure_json_logging(logging.INFO)
    return create_app(build_services(Settings()), owner=False)
