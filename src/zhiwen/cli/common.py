"""What the command modules share: lazily built services, consoles, JSON output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from zhiwen.config import Settings
from zhiwen.types import Workspace
from zhiwen.wiring import Services, build_services

console = Console()
err_console = Console(stderr=True)


@dataclass
class _State:
    data_dir: str | None = None
    _services: Services | None = None

    def settings(self) -> Settings:
        settings = Settings()
        if self.data_dir:
            settings = settings.model_copy(update={"data_dir": Path(self.data_dir)})
        return settings

    def services(self) -> Services:
        if self._services is None:
            self._services = build_services(self.settings())
        return self._services

    def workspace(self, name: str) -> Workspace:
        return self.services().workspaces.get_workspace(name)

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None


state = _State()


def print_json(value: Any) -> None:
    """The one JSON document a ``--json`` command prints on stdout."""
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


WORKSPACE_HELP = "Workspace name or id."
JSON_HELP = "Print one JSON document on stdout (progress goes to stderr)."
