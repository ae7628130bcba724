"""user create|list|password|disable|enable: the people who sign in to the inbox (agents) and admins."""

from __future__ import annotations

import dataclasses

import typer
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    print_json,
    state,
)

user_app = typer.Typer(
    help="People who sign in with e-mail and password: agents work the desk (/desk), admins everything. "
    "Programs use API keys (`zhiwen key create`).",
    no_args_is_help=True,
)
PasswordOption = typer.Option(
    ...,
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="ZHIWEN_NEW_PASSWORD",
    help="10 to 256 characters; asked for when not given (or set ZHIWEN_NEW_PASSWORD).",
)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")


@user_app.command("create")
def create(
    email: str = typer.Argument(..., help="What they sign in with."),
    name: str = typer.Option(..., "--name", help="Shown in the inbox, e.g. Li."),
    role: str = typer.Option("agent", "--role", help="agent (the desk) or admin (everything)."),
    password: str = PasswordOption,
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Add a person. Example: zhiwen user create li@shop.example --name Li"""
    user = state.services().users.create(state.workspace(workspace).id, email, name, role, password)
    if as_json:
        print_json(dataclasses.asdict(user))
    else:
        console.print(f"{user.role} {user.email} ({user.id}) can sign in at /desk.")


@user_app.command("list")
def list_users(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    users = state.services().users.list(state.workspace(workspace).id)
    if as_json:
        print_json([dataclasses.asdict(u) for u in users])
        return
    table = Table("id", "email", "name", "role", "created", "disabled")
    for u in users:
        table.add_row(u.id, u.email, u.name, u.role, u.created_at[:19], u.disabled_at or "")
    console.print(table)


@user_app.command("password")
def password(
    user_id: str = typer.Argument(..., help="usr_… from `zhiwen user list`."),
    new_password: str = PasswordOption,
    workspace: str = WorkspaceOption,
) -> None:
    """Set a new password; the user's sessions end."""
    user = state.services().users.set_password(state.workspace(workspace).id, user_id, new_password)
    console.print(f"New password set for {user.email}; their sessions ended.")


@user_app.command("disable")
def disable(user_id: str = typer.Argument(...), workspace: str = WorkspaceOption) -> None:
    """They can no longer sign in; open sessions end now."""
    user = state.services().users.set_disabled(state.workspace(workspace).id, user_id, True)
    console.print(f"{user.email} is disabled.")


@user_app.command("enable")
def enable(user_id: str = typer.Argument(...), workspace: str = WorkspaceOption) -> None:
    user = state.services().users.set_disabled(state.workspace(workspace).id, user_id, False)
    console.print(f"{user.email} can sign in again.")
