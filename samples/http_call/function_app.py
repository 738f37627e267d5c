"""Durable HTTP: an orchestration calls an HTTP endpoint (here a route of the same app) with call_http."""

import json
import os

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client) -> func.HttpResponse:
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["functionName"], None, payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="weather", methods=["GET"])
def weather(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"city": req.params.get("city"), "sky": "clear"}), mimetype="application/json")


@app.orchestration_trigger(context_name="context")
def call_weather(context: df.DurableOrchestrationContext):
    base = context.get_input() or os.environ.get("WEATHER_BASE_URL", "http://localhost:7071")
    response = yield context.call_http("GET", f"{base}/api/weather?city=Oslo")
    return {"status": response["statusCode"], "body": json.loads(response["content"])}
