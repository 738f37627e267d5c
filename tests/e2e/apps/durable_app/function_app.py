"""Durable patterns the e2e tests drive through `dfx start` and the real SDK client."""

import json
import time
from datetime import datetime, timedelta, timezone

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
ATTEMPTS: dict[str, int] = {}


@app.route(route="start/{name}/{id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client) -> func.HttpResponse:
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["name"], req.route_params.get("id"), payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="client/{id}/{op}", methods=["POST", "GET"])
@app.durable_client_input(client_name="client")
async def client_op(req: func.HttpRequest, client) -> func.HttpResponse:
    instance_id, op = req.route_params["id"], req.route_params["op"]
    if op == "raise":
        await client.raise_event(instance_id, req.params["event"], req.get_json())
    elif op == "terminate":
        await client.terminate(instance_id, "enough")
    elif op == "suspend":
        await client.suspend(instance_id, "pause")
    elif op == "resume":
        await client.resume(instance_id, "go on")
    elif op == "status":
        status = await client.get_status(instance_id, show_history=True)
        body = {"runtimeStatus": status.runtime_status.value if status.runtime_status else None,
                "output": status.output, "customStatus": status.custom_status}  # fmt: skip
        return func.HttpResponse(json.dumps(body), mimetype="application/json")
    elif op == "list":
        found = await client.get_status_by(instance_id_prefix=instance_id,
                                           runtime_status=[df.OrchestrationRuntimeStatus.Completed])  # fmt: skip
        everything = await client.get_status_all()
        body = {"by": sorted(s.instance_id for s in found), "all": len(everything)}
        return func.HttpResponse(json.dumps(body), mimetype="application/json")
    elif op == "purge":
        since = datetime.now(timezone.utc) - timedelta(minutes=5)
        result = await client.purge_instance_history_by(since, None, [df.OrchestrationRuntimeStatus.Completed])
        one = await client.purge_instance_history(instance_id)
        body = {"by": result.instances_deleted, "one": one.instances_deleted}
        return func.HttpResponse(json.dumps(body), mimetype="application/json")
    elif op == "wait":
        return await client.wait_for_completion_or_create_check_status_response(req, instance_id, 10000, 100)
    return func.HttpResponse(status_code=202)


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    cities = context.get_input() or ["Tokyo", "Seattle", "London"]
    greetings = []
    for city in cities:
        greetings.append((yield context.call_activity("hello", city)))
    return greetings


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    results = yield context.task_all([context.call_activity("double", n) for n in range(count)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def slow_fan_out(context: df.DurableOrchestrationContext):
    results = yield context.task_all([context.call_activity("slow_double", n) for n in range(context.get_input())])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting")
    event = context.wait_for_external_event("approve")
    timeout = context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    winner = yield context.task_any([event, timeout])
    if winner == event:
        timeout.cancel()
        return {"approved": event.result}
    return "timed out"


@app.orchestration_trigger(context_name="context")
def short_timer(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=1))
    return context.current_utc_datetime.isoformat()


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    first = yield context.call_sub_orchestrator("chain", ["Oslo"])
    second = yield context.call_sub_orchestrator("chain", ["Rome"], instance_id=f"{context.instance_id}-child")
    return first + second


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("flaky", options, context.instance_id))


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("explode", "caught")
    except Exception as error:
        caught = str(error).splitlines()[0]
    yield context.call_activity("explode", "uncaught")
    return caught


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    value = context.get_input()
    if value < 3:
        context.continue_as_new(value + 1)
        return None
    return value


@app.activity_trigger(input_name="city")
def hello(city: str) -> str:
    return f"Hello {city}!"


@app.activity_trigger(input_name="n")
def double(n: int) -> int:
    return n * 2


@app.activity_trigger(input_name="n")
def slow_double(n: int) -> int:
    time.sleep(0.05)
    return n * 2


@app.orchestration_trigger(context_name="context")
def versioned(context: df.DurableOrchestrationContext):
    child = yield context.call_sub_orchestrator("version_of", None, version="child-1")
    return {"mine": context.version, "child": child}


@app.orchestration_trigger(context_name="context")
def version_of(context: df.DurableOrchestrationContext):
    return context.version


@app.orchestration_trigger(context_name="context")
def fail_once(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("hello", "before")
    second = yield context.call_activity("fails_first_time", context.instance_id)
    return [first, second]


@app.activity_trigger(input_name="key")
def fails_first_time(key: str) -> str:
    ATTEMPTS[f"once-{key}"] = ATTEMPTS.get(f"once-{key}", 0) + 1
    if ATTEMPTS[f"once-{key}"] == 1:
        raise RuntimeError("first call fails")
    return "second call works"


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise RuntimeError(f"attempt {ATTEMPTS[key]} failed")
    return f"succeeded on attempt {ATTEMPTS[key]}"


@app.activity_trigger(input_name="what")
def explode(what: str) -> str:
    raise ValueError(f"boom {what}")
