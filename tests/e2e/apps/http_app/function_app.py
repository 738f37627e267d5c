"""Every HTTP shape the e2e tests drive: echo, status and headers, sync/async, Out bindings, context, failures."""

import asyncio
import json
import logging
import threading

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _echo(req: func.HttpRequest) -> dict:
    return {
        "method": req.method,
        "url": req.url,
        "headers": dict(req.headers),
        "params": dict(req.params),
        "route_params": dict(req.route_params),
        "body": req.get_body().decode("utf-8", "replace"),
    }


@app.route(route="echo/{*rest}")
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(_echo(req)), mimetype="application/json")


@app.route(route="items/{id:int}", methods=["GET"])
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"id {req.route_params['id']}")


@app.route(route="items/{name}", methods=["GET"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"name {req.route_params['name']}")


@app.route(route="items/special", methods=["GET"])
def item_special(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("special")


@app.route(route="optional/{x?}", methods=["GET"])
def optional(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


@app.route(route="created", methods=["POST"])
def created(req: func.HttpRequest) -> func.HttpResponse:
    data = req.get_json()
    return func.HttpResponse(
        json.dumps({"got": data}),
        status_code=201,
        headers={"X-Custom": "yes", "Location": "/api/things/1"},
        mimetype="application/json",
    )


@app.route(route="plain")
def plain(req: func.HttpRequest) -> str:
    return "just a string"


@app.route(route="binary")
def binary(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(bytes(range(256)), mimetype="application/octet-stream")


@app.route(route="sync-thread")
def sync_thread(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(threading.current_thread().name)


@app.route(route="async-sleep")
async def async_sleep(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0.01)
    return func.HttpResponse(f"async on {threading.current_thread().name}")


@app.route(route="with-context")
def with_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(f"{context.function_name} {context.invocation_id}")


@app.route(route="logs")
def logs(req: func.HttpRequest) -> str:
    logging.info("user log line from the function")
    return "logged"


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("kaboom from user code")


@app.route(route="dict")
def returns_dict(req: func.HttpRequest):
    return {"not": "allowed"}


@app.route(route="queue-out", methods=["POST"])
@app.queue_output(arg_name="msg", queue_name="outq", connection="AzureWebJobsStorage")
def queue_out(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse:
    msg.set(req.get_body().decode())
    return func.HttpResponse("queued", status_code=202)


@app.route(route="secured", auth_level=func.AuthLevel.FUNCTION)
def secured(req: func.HttpRequest) -> str:
    return "secret"


@app.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> str:
    return "admin"


@app.route(route="version")
def version(req: func.HttpRequest) -> str:
    return "v1"


@app.route(route="client-urls")
@app.durable_client_input(client_name="client")
async def client_urls(req: func.HttpRequest, client) -> func.HttpResponse:
    payload = client.create_http_management_payload("abc")
    bindings = client._orchestration_bindings  # the parsed binding string; no public accessor exists
    body = {"hub": bindings.task_hub_name, "rpc": bindings.rpc_base_url, **payload}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
