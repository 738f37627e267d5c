"""Scaffolding for ``dfx init`` and ``dfx new``: pure functions from file texts to file texts."""

from dfx.scaffold.compose import (
    APP_SCRIPT,
    AUTH_LEVELS,
    FileChange,
    NewFunction,
    Plan,
    check_function_name,
    compose,
    related_files,
)
from dfx.scaffold.errors import ScaffoldError
from dfx.scaffold.new_app import STARTER_ROUTE_EXAMPLE, app_files
from dfx.scaffold.templates import TEMPLATES, Template, find_template

__all__ = [
    "APP_SCRIPT",
    "AUTH_LEVELS",
    "STARTER_ROUTE_EXAMPLE",
    "TEMPLATES",
    "FileChange",
    "NewFunction",
    "Plan",
    "ScaffoldError",
    "Template",
    "app_files",
    "check_function_name",
    "compose",
    "find_template",
    "related_files",
]
