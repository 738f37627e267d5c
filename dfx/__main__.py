"""Allows ``python -m dfx``."""

from dfx.cli.main import main

main()
