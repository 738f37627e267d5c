"""A counter entity: signalled over HTTP, read back, and called from an orchestration."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
    elif operation == "reset":
        value = 0
    elif operation == "get":
        context.set_result(value)
    elif operation == "fail":
        raise ValueError("the counter refuses this operation")
    context.set_state(value)


@app.entity_trigger(context_name="context")
def journal(context: df.DurableEntityContext):
    """An append-only list: shows that each sender's signals arrive in the order it sent them."""
    entries = context.get_state(list)
    if context.operation_name == "append":
        entries.append(context.get_input())
    context.set_state(entries)


@app.route(route="counter/{key}/{operation}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def signal_counter(req: func.HttpRequest, client) -> func.HttpResponse:
    amount = req.get_json() if req.get_body() else None
    entity = df.EntityId("counter", req.route_params["key"])
    await client.signal_entity(entity, req.route_params["operation"], amount)
    return func.HttpResponse(status_code=202)


@app.route(route="counter/{key}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def read_counter(req: func.HttpRequest, client) -> func.HttpResponse:
    state = await client.read_entity_state(df.EntityId("counter", req.route_params["key"]))
    if not state.entity_exists:
        return func.HttpResponse("no such counter", status_code=404)
    return func.HttpResponse(json.dumps(state.entity_state), mimetype="application/json")


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client) -> func.HttpResponse:
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["functionName"], None, payload)
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def count_twice(context: df.DurableOrchestrationContext):
    entity = df.EntityId("counter", context.get_input() or "orchestrated")
    context.signal_entity(entity, "add", 1)
    context.signal_entity(entity, "add", 1)
    return (yield context.call_entity(entity, "get"))


@app.orchestration_trigger(context_name="context")
def wait_then_call(context: df.DurableOrchestrationContext):
    entity = df.EntityId("counter", "busy")
    yield context.wait_for_external_event("go")
    return (yield context.call_entity(entity, "get"))


@app.orchestration_trigger(context_name="context")
def call_failing(context: df.DurableOrchestrationContext):
    entity = df.EntityId("counter", "failing")
    context.signal_entity(entity, "add", 3)
    try:
        yield context.call_entity(entity, "fail")
    except Exception as error:
        return {"error": str(error), "value": (yield context.call_entity(entity, "get"))}
    return "no error"
