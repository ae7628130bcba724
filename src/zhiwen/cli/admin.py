"""init, check, workspace create|list, key create|list|revoke."""

from __future__ import annotations

import dataclasses
from typing import cast, get_args

import typer
from rich.table import Table

from zhiwen.cli.common import JSON_HELP, WORKSPACE_HELP, console, err_console, print_json, state
from zhiwen.errors import NotFound
from zhiwen.types import Role

workspace_app = typer.Typer(help="Create and list workspaces (tenants). Each has its own knowledge and keys.")
key_app = typer.Typer(help="Issue, list and revoke API keys. A key is shown once; only its hash is stored.")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(check)
    app.add_typer(workspace_app, name="workspace")
    app.add_typer(key_app, name="key")


def check(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Check that the store is whole (after a crash, a full disk, a restore): SQLite's own checks, every
    chunk in keyword search, every embedded chunk with its vector, every release as its manifest says,
    every unfinished upload with its files. Exits 1 and names each problem if it is not."""
    found = state.services().check_store()
    if as_json:
        print_json({"ok": not found, "problems": found})
    elif found:
        for problem in found:
            err_console.print(f"[red]problem[/] {problem}")
        err_console.print("Restore the last backup, or re-ingest the documents named above.")
    else:
        console.print("The store is whole.")
    if found:
        raise typer.Exit(1)


def init(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Create the store, a 'default' workspace and an admin key (printed once). Safe to run again."""
    services = state.services()
    try:
        workspace = services.workspaces.get_workspace("default")
        issued = None
    except NotFound:
        workspace = services.workspaces.create_workspace("default")
        issued = services.keys.issue(workspace.id, "admin", "admin")
    result = {
        "data_dir": str(services.settings.data_dir.resolve()),
        "workspace": workspace.name,
        "admin_key": issued.plain if issued else None,
    }
    if as_json:
        print_json(result)
        return
    console.print(f"Store: {result['data_dir']}")
    if issued:
        console.print(
            f"Created workspace [bold]default[/bold] and an admin key (shown only now):\n\n  {issued.plain}\n"
        )
    else:
        console.print("Already initialised; create more keys with `zhiwen key create`.")


@workspace_app.command("create")
def workspace_create(name: str, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Create a workspace and print an admin key for it (shown once)."""
    services = state.services()
    workspace = services.workspaces.create_workspace(name)
    issued = services.keys.issue(workspace.id, "admin", "admin")
    if as_json:
        print_json({**dataclasses.asdict(workspace), "admin_key": issued.plain})
    else:
        console.print(
            f"Workspace [bold]{name}[/bold] ({workspace.id}); admin key (shown only now):"
            f"\n\n  {issued.plain}\n"
        )


@workspace_app.command("list")
def workspace_list(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List workspaces with their document counts."""
    services = state.services()
    rows = [
        {**dataclasses.asdict(w), "documents": services.documents.count_documents(w.id)}
        for w in services.workspaces.list_workspaces()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("name", "id", "documents", "created")
    for row in rows:
        table.add_row(str(row["name"]), str(row["id"]), str(row["documents"]), str(row["created_at"]))
    console.print(table)


@key_app.command("create")
def key_create(
    workspace: str = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP),
    name: str = typer.Option("key", help="A label to recognise the key by."),
    role: str = typer.Option(
        "client",
        help="'admin' manages everything; 'client' (a program) may search, ask, give feedback, read "
        "documents and jobs, and use recommendations and events; 'agent' works the desk (queue, replies); "
        "'widget' is the public key of the chat widget on your site (needs --origin).",
    ),
    origins: list[str] = typer.Option(
        [],
        "--origin",
        help="Widget keys: a web origin allowed to use the key, e.g. https://shop.example.com (repeatable).",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Issue an API key for a workspace; the secret is printed once."""
    services = state.services()
    if role not in get_args(Role):
        raise typer.BadParameter(f"role must be one of {', '.join(get_args(Role))}")
    issued = services.keys.issue(state.workspace(workspace).id, name, cast(Role, role), origins)
    if as_json:
        print_json({**dataclasses.asdict(issued.key), "secret": issued.plain})
    else:
        console.print(
            f"{issued.key.role} key {issued.key.id} for {workspace} (shown only now):\n\n  {issued.plain}\n"
        )


@key_app.command("list")
def key_list(
    workspace: str = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List a workspace's keys (prefixes only; secrets are never stored)."""
    keys = state.services().workspaces.list_keys(state.workspace(workspace).id)
    if as_json:
        print_json([dataclasses.asdict(k) for k in keys])
        return
    table = Table("id", "prefix", "name", "role", "created", "revoked")
    for k in keys:
        table.add_row(k.id, k.prefix + "…", k.name, k.role, k.created_at, k.revoked_at or "")
    console.print(table)


@key_app.command("revoke")
def key_revoke(
    key: str = typer.Argument(..., help="Key id (key_…) or its prefix."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Revoke a key at once; requests with it get 401 from then on."""
    revoked = state.services().workspaces.revoke_key(key)
    if as_json:
        print_json(dataclasses.asdict(revoked))
    else:
        console.print(f"Revoked {revoked.id} ({revoked.prefix}…).")
