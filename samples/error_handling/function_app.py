"""Error handling: a caught activity failure runs a compensation; an uncaught one fails the orchestration."""

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
def charge_with_refund(context: df.DurableOrchestrationContext):
    yield context.call_activity("reserve_funds", 100)
    try:
        yield context.call_activity("charge_card", 100)
    except Exception as error:
        yield context.call_activity("release_funds", 100)
        return f"compensated: {str(error).splitlines()[0]}"
    return "charged"


@app.orchestration_trigger(context_name="context")
def charge_without_handling(context: df.DurableOrchestrationContext):
    yield context.call_activity("charge_card", 100)
    return "charged"


@app.activity_trigger(input_name="amount")
def reserve_funds(amount: int) -> str:
    return f"reserved {amount}"


@app.activity_trigger(input_name="amount")
def charge_card(amount: int) -> str:
    raise ValueError(f"card declined for {amount}")


@app.activity_trigger(input_name="amount")
def release_funds(amount: int) -> str:
    return f"released {amount}"
