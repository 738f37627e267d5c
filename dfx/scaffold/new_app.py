"""The files ``dfx init`` writes: the durable hello app, composed from the same templates ``dfx new`` uses."""

from __future__ import annotations

from dfx.scaffold import project
from dfx.scaffold import templates as tpl
from dfx.scaffold.compose import APP_SCRIPT, NewFunction, compose

STARTER_ROUTE_EXAMPLE = "orchestrators/" + project.ORCHESTRATOR_FUNCTION
"""The route of the starter that starts the hello orchestrator: what ``dfx init`` tells people to POST to."""


def app_files(title: str) -> dict[str, str]:
    """Every file of a new app by name, function_app.py first; ``title`` heads its docstring."""
    files = {APP_SCRIPT: tpl.app_module(title)}
    for request in (
        NewFunction("durable-starter", project.STARTER_FUNCTION),
        NewFunction("orchestrator", project.ORCHESTRATOR_FUNCTION, activity=project.ACTIVITY_FUNCTION),
    ):
        text = compose(request, files).text(APP_SCRIPT)
        assert text is not None
        files[APP_SCRIPT] = text
    return {**files, **project.config_files()}
