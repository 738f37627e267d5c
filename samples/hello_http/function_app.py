"""A plain HTTP app: query and body input, route parameters, async code, logging and a blueprint."""

import json
import logging

import azure.functions as func

from greetings import bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


@app.route(route="hello", methods=["GET", "POST"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name")
    if not name and req.get_body():
        try:
            name = req.get_json().get("name")
        except ValueError:
            return func.HttpResponse("The body is not JSON.", status_code=400)
    logging.info("Saying hello to %s", name or "the world")
    return func.HttpResponse(f"Hello, {name or 'world'}!")


@app.route(route="products/{category:alpha}/{id:int?}", methods=["GET"])
async def products(req: func.HttpRequest) -> func.HttpResponse:
    body = {"category": req.route_params["category"], "id": req.route_params.get("id")}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
