"""Functions kept in a blueprint and registered on the app in function_app.py."""

import azure.functions as func

bp = func.Blueprint()


@bp.route(route="greet/{*names}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def greet(req: func.HttpRequest) -> str:
    names = [n for n in req.route_params.get("names", "").split("/") if n]
    return "Hello, " + " and ".join(names or ["nobody"]) + "."
