"""``dfx durable``: act on instances straight through storage, the way ``func durable`` should (being built)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Start, signal, stop and purge instances straight through storage; no host needed.", no_args_is_help=True
)
