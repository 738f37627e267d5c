"""The root of dfx's typed errors: every expected failure carries a one-line message and a hint."""

from __future__ import annotations


class DfxError(Exception):
    """An expected failure with a message for people and, where one exists, a hint on how to fix it.

    The CLI prints ``message`` on one line (and ``hint`` below it) instead of a traceback; the HTTP
    layer maps subclasses to status codes.
    """

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message
