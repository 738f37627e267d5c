"""Why a function app could not be loaded or a function could not be invoked."""

from __future__ import annotations

from dfx.errors import DfxError


class AppLoadError(DfxError):
    """The app script could not be imported or indexed; ``details`` holds the user's traceback."""

    def __init__(self, message: str, *, details: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.details = details


class FunctionLoadError(AppLoadError):
    """A function's bindings do not agree with its Python signature (the worker's own texts)."""

    def __init__(self, function_name: str, message: str) -> None:
        super().__init__(f"cannot load the {function_name} function: {message}")
        self.function_name = function_name


class UnknownFunctionError(DfxError):
    """A function name that the loaded app does not define."""
