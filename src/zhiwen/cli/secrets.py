"""secrets set|list|delete|rotate|new-key: a workspace's sealed secrets for its tools; the master key."""

from __future__ import annotations

import typer
from rich.table import Table

from zhiwen.cli.common import JSON_HELP, WorkspaceOption, console, print_json, state
from zhiwen.wiring import new_master_key

secrets_app = typer.Typer(
    help="Secrets that intents' tools send as {secret:NAME} (tokens for your order system, …), stored "
    "sealed with the master key (ZHIWEN_MASTER_KEY, or the key made in the data dir's master.key) and "
    "never shown again. Webhook signing secrets are sealed the same way.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(secrets_app, name="secrets")


@secrets_app.command("set")
def set_secret(
    name: str = typer.Argument(..., help="Capitals, digits and _, e.g. ORDERS_TOKEN."),
    value: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        envvar="ZHIWEN_SECRET_VALUE",
        help="Asked for when not given, so it stays out of the shell history (or ZHIWEN_SECRET_VALUE).",
    ),
    workspace: str = WorkspaceOption,
) -> None:
    """Set or replace a secret. Example: zhiwen secrets set ORDERS_TOKEN"""
    state.services().secrets.put(state.workspace(workspace).id, name, value)
    console.print(f"{name} is set; tools use it as {{secret:{name}}}.")


@secrets_app.command("list")
def list_secrets(
    workspace: str = WorkspaceOption, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)
) -> None:
    """Names and when they changed; values are never shown."""
    names = state.services().secrets.names(state.workspace(workspace).id)
    if as_json:
        print_json([{"name": n, "updated_at": at} for n, at in names])
        return
    table = Table("name", "updated (UTC)")
    for name, at in names:
        table.add_row(name, at[:19])
    console.print(table)


@secrets_app.command("delete")
def delete_secret(name: str = typer.Argument(...), workspace: str = WorkspaceOption) -> None:
    state.services().secrets.delete(state.workspace(workspace).id, name)
    console.print(f"{name} deleted.")


@secrets_app.command("rotate")
def rotate() -> None:
    """Reseal every stored secret (all workspaces, webhooks too) with the first master key.

    To change the master key: put a new key first in ZHIWEN_MASTER_KEY, keep the old one after it
    (ZHIWEN_MASTER_KEY=new,old), run this, then drop the old key."""
    count = state.services().secrets.rotate()
    console.print(f"{count} secret(s) resealed with the newest master key; older keys can now be removed.")


@secrets_app.command("new-key")
def make_key() -> None:
    """Print a new master key (for ZHIWEN_MASTER_KEY); stores nothing."""
    print(new_master_key())
