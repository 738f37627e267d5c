"""Queue functions the e2e tests feed: one starts an orchestration, one always fails, one reads plain text."""

import logging

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.queue_trigger(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
@app.durable_client_input(client_name="client")
async def on_order(msg: func.QueueMessage, client) -> None:
    instance_id = await client.start_new("ship", None, msg.get_json())
    logging.info("order id=%s dequeue_count=%s started %s", msg.id, msg.dequeue_count, instance_id)


@app.orchestration_trigger(context_name="context")
def ship(context: df.DurableOrchestrationContext):
    order = context.get_input()
    return {"shipped": order["item"]}


@app.queue_trigger(arg_name="msg", queue_name="%BROKEN_QUEUE%", connection="AzureWebJobsStorage")
def always_fails(msg: func.QueueMessage) -> None:
    raise ValueError(f"cannot handle {msg.get_body().decode()} (try {msg.dequeue_count})")


@app.route(route="enqueue", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="orders", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> str:
    out.set(req.get_body().decode())
    return "queued"
