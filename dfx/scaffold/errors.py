"""Why a scaffold could not be written: one line for people and a hint."""

from __future__ import annotations

from dfx.errors import DfxError


class ScaffoldError(DfxError):
    """``dfx init`` or ``dfx new`` refused: a file in the way, a bad name, a script it cannot extend."""
