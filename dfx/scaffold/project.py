"""The files of a new function app (``dfx init``), and keeping requirements.txt and host.json fit for Azure."""

from __future__ import annotations

import json
import re
from typing import Any

EXTENSION_BUNDLE = {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
FUNCTIONS_PACKAGE = "azure-functions"
DURABLE_PACKAGE = "azure-functions-durable"
STARTER_FUNCTION = "http_start"
ORCHESTRATOR_FUNCTION = "hello_orchestrator"
ACTIVITY_FUNCTION = "hello"

HOST_JSON: dict[str, Any] = {
    "version": "2.0",
    "logging": {
        "applicationInsights": {"samplingSettings": {"isEnabled": True, "excludedTypes": "Request"}},
    },
    "extensionBundle": EXTENSION_BUNDLE,
}
LOCAL_SETTINGS: dict[str, Any] = {
    "IsEncrypted": False,
    "Values": {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "FUNCTIONS_WORKER_RUNTIME": "python",
        # Core Tools writes it for the v2 model; older hosts need it to index function_app.py.
        "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
    },
}
REQUIREMENTS = f"""# What Azure installs for the app; azure-functions-worker is managed by the platform.
{FUNCTIONS_PACKAGE}
{DURABLE_PACKAGE}
"""
GITIGNORE = """# Python
__pycache__/
*.py[cod]
*.egg-info/
.pytest_cache/
.mypy_cache/
.ruff_cache/
.coverage
htmlcov/

# Virtual environments
.venv/
venv/
.env

# Azure Functions
local.settings.json
.python_packages/

# Azurite and dfx state
__azurite_db*__.json
__blobstorage__/
__queuestorage__/
.dfx/

# Editors
.vscode/*
!.vscode/extensions.json
.idea/
"""
FUNCIGNORE = """.git*
.vscode
.idea
.venv
venv
.dfx
local.settings.json
tests
__pycache__
.pytest_cache
.mypy_cache
.ruff_cache
__azurite_db*__.json
__blobstorage__
__queuestorage__
"""


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def config_files() -> dict[str, str]:
    """Every file of a new app except function_app.py, by name."""
    return {
        "host.json": dump_json(HOST_JSON),
        "local.settings.json": dump_json(LOCAL_SETTINGS),
        "requirements.txt": REQUIREMENTS,
        ".gitignore": GITIGNORE,
        ".funcignore": FUNCIGNORE,
    }


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(line: str) -> str | None:
    text = line.split("#", 1)[0].strip()
    if not text or text.startswith("-"):
        return None
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)
    return _normalized(match.group(0)) if match else None


def add_requirement(text: str, package: str) -> str | None:
    """``text`` (requirements.txt) with ``package`` appended, or None when it already lists it."""
    wanted = _normalized(package)
    if any(_requirement_name(line) == wanted for line in text.splitlines()):
        return None
    body = text if not text or text.endswith("\n") else text + "\n"
    return f"{body}{package}\n"


def add_extension_bundle(text: str) -> str | None:
    """``text`` (host.json) with the extension bundle block Azure needs for non-HTTP triggers.

    None when it has one already, or when it is not a JSON object (the host reports that better).
    """
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or "extensionBundle" in data:
        return None
    return dump_json({**data, "extensionBundle": EXTENSION_BUNDLE})
