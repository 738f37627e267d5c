"""``dfx inspect``: read a task hub straight from storage, no host needed.

Each view lives in a module of its own; this package only gathers them into the ``dfx inspect`` group.
"""

from __future__ import annotations

import typer

from dfx.cli.inspect.history import history
from dfx.cli.inspect.instances import entities_command, instances
from dfx.cli.inspect.queues import queues
from dfx.cli.inspect.status import status
from dfx.cli.inspect.timeline import timeline
from dfx.cli.inspect.tree import tree

app = typer.Typer(
    help="Read a task hub straight from storage, no host needed: histories, statuses, trees, timelines, instances, "
    "entities, queues.\n\nExample: dfx inspect history 4a1b9c0e2f7d4e3c8b5a6d7e8f9a0b1c --follow",
    no_args_is_help=True,
)
app.command()(history)
app.command()(status)
app.command()(tree)
app.command()(timeline)
app.command()(instances)
app.command("entities")(entities_command)
app.command()(queues)

__all__ = ["app"]
