"""The commands every gated model family shares (recommenders, intent models): promote, rollback, gate."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import typer

from zhiwen.cli.common import (
    JSON_HELP,
    WORKSPACE_HELP,
    console,
    parse_minimums,
    print_json,
    print_verdict,
    state,
)
from zhiwen.cli.feedback import actor
from zhiwen.errors import GateRefused
from zhiwen.services.lifecycle.model_family import GatedModels

WorkspaceOption = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP)
JsonOption = typer.Option(False, "--json", help=JSON_HELP)


def add_gate_commands(
    app: typer.Typer,
    models: Callable[[], GatedModels],
    noun: str,
    gated: Sequence[str],
    example: str,
    promote_help: str,
) -> None:
    """``promote N``, ``rollback [N]`` and ``gate [--min metric=value] [--tolerance T]`` for one family;
    ``noun`` names its models in messages ("intent model")."""

    @app.command("promote", help=promote_help)
    def promote(version: int, workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
        try:
            verdict = models().promote(state.workspace(workspace).id, version, actor())
        except GateRefused as refused:
            print_json(refused.details) if as_json else print_verdict(refused.details)
            raise typer.Exit(1) from None
        print_json(verdict) if as_json else print_verdict(verdict)

    @app.command(
        "rollback", help=f"Make an earlier {noun} live again at once (not gated: it is the way back)."
    )
    def rollback(
        version: int | None = typer.Argument(None, help="Default: the version live before this one."),
        workspace: str = WorkspaceOption,
    ) -> None:
        live = models().rollback(state.workspace(workspace).id, actor(), version)
        console.print(f"{noun.capitalize()} v{live} is live.")

    @app.command("gate", help=f"Show or set the {noun} gate's minimums and tolerance.")
    def gate(
        minimum: list[str] = typer.Option(
            [], "--min", help=f"metric=value, e.g. --min {example} ({', '.join(gated)})."
        ),
        tolerance: float | None = typer.Option(
            None, help=f"Largest drop against the live {noun} (default 0.02)."
        ),
        workspace: str = WorkspaceOption,
        as_json: bool = JsonOption,
    ) -> None:
        parsed = parse_minimums(minimum, example)
        family = models().family
        workspace_id = state.workspace(workspace).id
        policy = (
            family.set_gate_policy(workspace_id, parsed, tolerance)
            if parsed or tolerance is not None
            else family.gate_policy(workspace_id)
        )
        print_json(policy.to_dict()) if as_json else console.print(policy.to_dict())
