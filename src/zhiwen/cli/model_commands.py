"""The commands every gated model family shares (recommenders, intent models, sentiment models, table
models, the product recogniser): promote, rollback, gate, and how a training command ends."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typer

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    parse_minimums,
    print_json,
    print_verdict,
    state,
)
from zhiwen.cli.feedback import actor
from zhiwen.errors import GateRefused
from zhiwen.services.lifecycle.model_family import GatedModels, promoted_if_passing
from zhiwen.types import ModelVersion


def finish_training(
    models: GatedModels,
    workspace_id: str,
    version: ModelVersion,
    promote: bool,
    as_json: bool,
    shown: Callable[[ModelVersion], None],
    promote_command: str,
    public: Mapping[str, Any] | None = None,
) -> None:
    """How every training command ends: with ``promote``, the new version goes through the gate; the
    version (``shown`` prints it, ``public`` is its JSON, default all of it) and the verdict are printed;
    a promotion the gate refused exits 1, as `promote` does. ``promote_command`` is what makes it live
    later ("zhiwen vision promote")."""
    verdict = promoted_if_passing(models, workspace_id, version.version, actor()) if promote else None
    if as_json:
        print_json({"model": dict(public) if public is not None else version.__dict__, "promotion": verdict})
    else:
        shown(version)
        if verdict is not None:
            print_verdict(verdict)
        else:
            console.print(f"Not live yet: `{promote_command} {version.version}` puts it through the gate.")
    if verdict is not None and not verdict["passed"]:
        raise typer.Exit(1)


def add_gate_commands(
    app: typer.Typer,
    models: Callable[[str, str], GatedModels],
    noun: str,
    gated: Sequence[str],
    example: str,
    promote_help: str,
    promoted: str = "",
    named: bool = False,
) -> None:
    """``promote N``, ``rollback [N]`` and ``gate [--min metric=value] [--tolerance T]`` for one family,
    ``models(workspace_id, name)``; with ``named`` (table models) each command first takes the model's
    NAME. ``noun`` names the models in messages ("intent model"); ``promoted`` is a hint printed after a
    promotion (what to do next)."""

    def promote(name: str, version: int, workspace: str, as_json: bool) -> None:
        workspace_id = state.workspace(workspace).id
        try:
            verdict = models(workspace_id, name).promote(workspace_id, version, actor())
        except GateRefused as refused:
            print_json(refused.details) if as_json else print_verdict(refused.details)
            raise typer.Exit(1) from None
        print_json(verdict) if as_json else print_verdict(verdict)
        if promoted and not as_json:
            console.print(promoted)

    def rollback(name: str, version: int | None, workspace: str) -> None:
        workspace_id = state.workspace(workspace).id
        live = models(workspace_id, name).rollback(workspace_id, actor(), version)
        console.print(f"{noun.capitalize()} {name + ' ' if name else ''}v{live} is live.")

    def gate(name: str, minimum: list[str], tolerance: float | None, workspace: str, as_json: bool) -> None:
        parsed = parse_minimums(minimum, example)
        workspace_id = state.workspace(workspace).id
        family = models(workspace_id, name).family
        policy = (
            family.set_gate_policy(workspace_id, parsed, tolerance)
            if parsed or tolerance is not None
            else family.gate_policy(workspace_id)
        )
        print_json(policy.to_dict()) if as_json else console.print(policy.to_dict())

    rollback_help = f"Make an earlier {noun} live again at once (not gated: it is the way back)."
    gate_help = f"Show or set the {noun} gate's minimums and tolerance."
    earlier = typer.Argument(None, help="Default: the version live before this one.")
    minimums = typer.Option([], "--min", help=f"metric=value, e.g. --min {example} ({', '.join(gated)}).")
    tolerance_option = typer.Option(
        None, "--tolerance", help=f"Largest drop against the live {noun} (default 0.02)."
    )
    if named:
        name_argument = typer.Argument(..., help=f"The {noun}'s name.")

        @app.command("promote", help=promote_help)
        def promote_named(
            name: str = name_argument,
            version: int = typer.Argument(...),
            workspace: str = WorkspaceOption,
            as_json: bool = JsonOption,
        ) -> None:
            promote(name, version, workspace, as_json)

        @app.command("rollback", help=rollback_help)
        def rollback_named(
            name: str = name_argument, version: int | None = earlier, workspace: str = WorkspaceOption
        ) -> None:
            rollback(name, version, workspace)

        @app.command("gate", help=gate_help)
        def gate_named(
            name: str = name_argument,
            minimum: list[str] = minimums,
            tolerance: float | None = tolerance_option,
            workspace: str = WorkspaceOption,
            as_json: bool = JsonOption,
        ) -> None:
            gate(name, minimum, tolerance, workspace, as_json)

        return

    @app.command("promote", help=promote_help)
    def promote_family(version: int, workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
        promote("", version, workspace, as_json)

    @app.command("rollback", help=rollback_help)
    def rollback_family(version: int | None = earlier, workspace: str = WorkspaceOption) -> None:
        rollback("", version, workspace)

    @app.command("gate", help=gate_help)
    def gate_family(
        minimum: list[str] = minimums,
        tolerance: float | None = tolerance_option,
        workspace: str = WorkspaceOption,
        as_json: bool = JsonOption,
    ) -> None:
        gate("", minimum, tolerance, workspace, as_json)
