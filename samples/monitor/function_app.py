"""Monitor: poll a job's status with durable timers until it is done, then continue as new for the next job."""

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
def job_monitor(context: df.DurableOrchestrationContext):
    state = context.get_input()
    remaining = state if isinstance(state, int) else state["remaining"]
    checked = 0 if isinstance(state, int) else state["checked"]
    polls = 0
    while not (yield context.call_activity("job_is_done", {"job": checked, "polls": polls})):
        polls += 1
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=1))
    if remaining > 1:
        context.continue_as_new({"remaining": remaining - 1, "checked": checked + 1})
        return None
    return f"{checked + 1} jobs done"


@app.activity_trigger(input_name="check")
def job_is_done(check: dict) -> bool:
    return check["polls"] >= 2  # a stand-in for asking a real system
