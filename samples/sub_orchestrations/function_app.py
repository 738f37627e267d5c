"""Sub-orchestrations: a parent runs one child orchestration per order, with explicit child instance ids."""

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
def process_orders(context: df.DurableOrchestrationContext):
    orders = context.get_input() or ["a", "b"]
    children = [context.call_sub_orchestrator("process_order", order, f"order-{order}") for order in orders]
    return (yield context.task_all(children))


@app.orchestration_trigger(context_name="context")
def process_order(context: df.DurableOrchestrationContext):
    order = context.get_input()
    reserved = yield context.call_activity("reserve", order)
    shipped = yield context.call_activity("ship", reserved)
    return shipped


@app.activity_trigger(input_name="order")
def reserve(order: str) -> str:
    return f"{order}: reserved"


@app.activity_trigger(input_name="reservation")
def ship(reservation: str) -> str:
    return f"{reservation}, shipped"
