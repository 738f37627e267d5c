"""Human interaction: wait for an approval event, raced against a timeout timer."""

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
def approval_workflow(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting for approval")
    deadline = context.current_utc_datetime + timedelta(seconds=(context.get_input() or 60))
    timeout = context.create_timer(deadline)
    approval = context.wait_for_external_event("approval")
    winner = yield context.task_any([approval, timeout])
    if winner == approval:
        timeout.cancel()
        return (yield context.call_activity("record", f"approved: {approval.result}"))
    return (yield context.call_activity("record", "escalated: nobody answered"))


@app.activity_trigger(input_name="decision")
def record(decision: str) -> str:
    return decision
