"""``dfx taskhub``: list, describe and delete task hubs in a storage account (being built)."""

from __future__ import annotations

import typer

app = typer.Typer(help="List, describe and delete the task hubs of a storage account.", no_args_is_help=True)
