"""An eternal orchestration: do some work, sleep, continue as new with a fresh history, forever."""

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client) -> func.HttpResponse:
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["functionName"], None, payload)
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def eternal_cleanup(context: df.DurableOrchestrationContext):
    round_number = context.get_input() or 0
    cleaned = yield context.call_activity("clean_up", round_number)
    context.set_custom_status({"round": round_number, "last": cleaned})
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=2))
    context.continue_as_new(round_number + 1)


@app.activity_trigger(input_name="round_number")
def clean_up(round_number: int) -> str:
    return f"round {round_number} cleaned"
