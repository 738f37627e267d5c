"""Orchestrations the engine benchmark drives: chaining, a long chain, a wide fan-out, an event sink, short timers."""

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def hello_cities(context: df.DurableOrchestrationContext):
    greetings = []
    for city in ["Tokyo", "Seattle", "London"]:
        greetings.append((yield context.call_activity("say_hello", city)))
    return greetings


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    for n in range(context.get_input()):
        yield context.call_activity("noop", n)
    return "done"


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    results = yield context.task_all([context.call_activity("noop", n) for n in range(context.get_input())])
    return len(results)


@app.orchestration_trigger(context_name="context")
def event_sink(context: df.DurableOrchestrationContext):
    # One name per event: the SDK keeps only the last buffered event per name (host-protocol §2.8).
    for n in range(context.get_input()):
        yield context.wait_for_external_event(f"ping{n}")
    return "all received"


@app.orchestration_trigger(context_name="context")
def short_timers(context: df.DurableOrchestrationContext):
    # Queues hide messages for whole seconds; a local timer should still fire when it is due.
    for _ in range(context.get_input()):
        yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=200))
    return "done"


@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@app.activity_trigger(input_name="n")
def noop(n: int) -> int:
    return n


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    elif context.operation_name == "get":
        context.set_result(value)
    context.set_state(value)


@app.orchestration_trigger(context_name="context")
def call_loop(context: df.DurableOrchestrationContext):
    entity = df.EntityId("counter", f"calls-{context.instance_id}")
    for _ in range(context.get_input()):
        yield context.call_entity(entity, "get")
    return "done"
