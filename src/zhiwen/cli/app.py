"""Root command, shared options and error handling."""

from __future__ import annotations

import sys

import typer

from zhiwen.cli import (
    admin,
    audit,
    backup,
    bench,
    catalog,
    desk,
    feedback,
    intents,
    knowledge,
    lifecycle,
    privacy,
    recommend,
    reviews,
    secrets,
    serve,
    synonyms,
    table_models,
    users,
    vision,
)
from zhiwen.cli.common import err_console, state
from zhiwen.errors import ZhiwenError

app = typer.Typer(
    name="zhiwen",
    help=(
        "Zhiwen (智问): a self-hosted customer-service assistant that answers from your knowledge, "
        "with citations, and hands off to a human when it is not sure.\n\n"
        'Start with `zhiwen init`, load knowledge with `zhiwen ingest ./docs`, then `zhiwen ask "..."` '
        "or `zhiwen serve`. Data lives in ./zhiwen-data (set ZHIWEN_DATA_DIR or --data-dir)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
admin.register(app)
knowledge.register(app)
feedback.register(app)
synonyms.register(app)
desk.register(app)
users.register(app)
lifecycle.register(app)
reviews.register(app)
catalog.register(app)
recommend.register(app)
intents.register(app)
table_models.register(app)
vision.register(app)
backup.register(app)
audit.register(app)
secrets.register(app)
privacy.register(app)
serve.register(app)
app.add_typer(bench.app, name="bench")


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: str | None = typer.Option(
        None,
        "--data-dir",
        envvar="ZHIWEN_DATA_DIR",
        help="Where the embedded store lives (default ./zhiwen-data).",
    ),
) -> None:
    state.close()  # a fresh set of services per invocation (matters when one process runs many)
    state.data_dir = data_dir
    state.used_workspaces, state.opened_store = set(), False
    ctx.call_on_close(state.close)


def main() -> None:
    exit_code = 0
    try:
        app()
    except ZhiwenError as error:
        err_console.print(f"[red]error ({error.code}):[/red] {error.message}")
        exit_code = 2
        sys.exit(2)
    except SystemExit as exit:
        exit_code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        raise
    except BaseException:  # a crash or Ctrl-C: the log must not say it succeeded
        exit_code = 1
        raise
    finally:
        audit.record_command(typer.main.get_command(app), sys.argv[1:], exit_code)
        state.close()
