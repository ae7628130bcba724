"""Imports point one way: api, cli → services → ports ← stores, adapters; only wiring names concrete
classes. Checked on every module's imports (those inside functions too), so a shortcut fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import zhiwen

ROOT = Path(zhiwen.__file__).parent
# What each layer may not import. The plain layers (text, parsers, types, errors, ports, config) import
# nothing above them.
FORBIDDEN = {
    "services": ("stores", "adapters", "api", "cli", "wiring"),
    "stores": ("services", "adapters", "api", "cli", "wiring"),
    "adapters": ("stores", "services", "api", "cli", "wiring"),
    "api": ("stores", "adapters"),
    "cli": ("stores", "adapters"),
    "text": ("services", "stores", "adapters", "api", "cli", "wiring", "parsers"),
    "parsers": ("services", "stores", "adapters", "api", "cli", "wiring"),
    "types": ("services", "stores", "adapters", "api", "cli", "wiring"),
    "errors": ("services", "stores", "adapters", "api", "cli", "wiring"),
    "ports": ("services", "stores", "adapters", "api", "cli", "wiring"),
    "config": ("services", "stores", "adapters", "api", "cli", "wiring"),
}
# The worker process is a runner of service work, and builds its own services in the child.
ALLOWED = {
    ("adapters.background", "services.background"),
    ("adapters.background", "wiring"),
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zhiwen."):
            names.add(node.module.removeprefix("zhiwen."))
        elif isinstance(node, ast.Import):
            names.update(a.name.removeprefix("zhiwen.") for a in node.names if a.name.startswith("zhiwen."))
    return names


def test_imports_point_one_way() -> None:
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        layer = module.split(".")[0]
        for imported in _imports(path):
            target = imported.split(".")[0]
            if target in FORBIDDEN.get(layer, ()) and (module, imported) not in ALLOWED:
                wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from zhiwen.stores.sqlite.db import Database\n", encoding="utf-8")
    assert _imports(sample) == {"stores.sqlite.db"}
