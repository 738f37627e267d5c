"""The app of the fault tests: a human-interaction orchestration, an entity caller and a counter entity."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}/{id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client) -> func.HttpResponse:
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["name"], req.route_params.get("id"), payload)
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    greeting = yield context.call_activity("hello", context.get_input())
    context.set_custom_status("waiting")
    decision = yield context.wait_for_external_event("approve")
    return (yield context.call_activity("hello", f"{greeting} / {decision}"))


@app.orchestration_trigger(context_name="context")
def add_add_get(context: df.DurableOrchestrationContext):
    counter = df.EntityId("counter", context.get_input())
    context.signal_entity(counter, "add", 3)
    context.signal_entity(counter, "add", 4)
    return (yield context.call_entity(counter, "get"))


@app.activity_trigger(input_name="what")
def hello(what: str) -> str:
    return f"hello {what}"


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    elif context.operation_name == "get":
        context.set_result(value)
    context.set_state(value)


@app.entity_trigger(context_name="context")
def journal(context: df.DurableEntityContext):
    entries = context.get_state(list)
    if context.operation_name == "append":
        entries.append(context.get_input())
    context.set_state(entries)
