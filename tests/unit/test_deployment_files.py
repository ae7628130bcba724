"""deploy/: the Dockerfile and the Compose file name only commands, options and settings Zhiwen has.

Docker cannot run on the development machines, so the images are not built here; what can go stale
without anyone noticing (a renamed option, a setting that no longer exists, an extra dropped from
pyproject) is checked against the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import typer
import yaml
from typer.core import TyperGroup

from zhiwen.cli import app
from zhiwen.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _parses(argv: list[str]) -> None:
    """``zhiwen <argv>`` is a command whose options and values the CLI accepts (not run)."""
    assert argv[0] == "zhiwen", argv
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    with group.make_context("zhiwen", [], resilient_parsing=True) as parent:
        command = group.get_command(parent, argv[1])
        assert command is not None, f"no command `zhiwen {argv[1]}`"
        command.make_context(argv[1], list(argv[2:]), parent=parent)  # raises on an unknown option or value


def test_every_zhiwen_command_in_the_compose_file_and_the_image_exists_with_its_options() -> None:
    services = _compose()["services"]
    commands = [s["command"] for s in services.values() if s.get("command", [""])[0] == "zhiwen"]
    assert len(commands) == 2  # the server and the worker
    image_default = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE)
    assert image_default is not None
    for argv in [*commands, yaml.safe_load(image_default.group(1))]:
        _parses(argv)


def test_every_zhiwen_setting_named_in_deploy_exists() -> None:
    named = set(re.findall(r"\bZHIWEN_([A-Z_]+)\b", (DEPLOY / "Dockerfile").read_text()))
    for service in _compose()["services"].values():
        named |= {
            k.removeprefix("ZHIWEN_") for k in service.get("environment", {}) if k.startswith("ZHIWEN_")
        }
    named -= {"DB_PASSWORD"}  # the Compose file's own variable, given to PostgreSQL and the URL
    assert {"DATABASE_URL", "REDIS_URL", "MASTER_KEY", "DATA_DIR"} <= named
    assert named <= {name.upper() for name in Settings.model_fields}, named - {
        n.upper() for n in Settings.model_fields
    }


def test_the_image_installs_extras_pyproject_has_and_every_service_shares_the_database_and_queue() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = re.search(
        r"pip install --no-cache-dir '\.\[([a-z,]+)\]'", (DEPLOY / "Dockerfile").read_text()
    )
    assert installed is not None and set(installed.group(1).split(",")) <= set(extras)
    services = _compose()["services"]
    for name in ("api", "worker"):
        environment = services[name]["environment"]
        assert environment["ZHIWEN_DATABASE_URL"].endswith("@db:5432/zhiwen")
        assert environment["ZHIWEN_REDIS_URL"] == "redis://queue:6379/0"
    assert "--appendonly" in services["queue"]["command"]  # a lost message would leave its job queued
