"""Triggers beside HTTP: an order queue that starts an orchestration, and a timer that starts one each minute."""

import logging

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="orders", methods=["POST"])
@app.queue_output(arg_name="orders", queue_name="orders", connection="AzureWebJobsStorage")
def place_order(req: func.HttpRequest, orders: func.Out[str]) -> func.HttpResponse:
    """Accept an order and leave it on the 'orders' queue."""
    orders.set(req.get_body().decode())
    return func.HttpResponse("Order queued.", status_code=202)


@app.queue_trigger(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
@app.durable_client_input(client_name="client")
async def on_order(msg: func.QueueMessage, client) -> None:
    """Each queued order starts its own orchestration."""
    instance_id = await client.start_new("process_order", None, msg.get_json())
    logging.info("Started process_order %s", instance_id)


@app.orchestration_trigger(context_name="context")
def process_order(context: df.DurableOrchestrationContext):
    order = context.get_input()
    receipt = yield context.call_activity("charge", order)
    parcel = yield context.call_activity("ship", order)
    return {"receipt": receipt, "parcel": parcel}


@app.activity_trigger(input_name="order")
def charge(order: dict) -> str:
    return f"charged {order.get('amount', 0)} for {order.get('item', '?')}"


@app.activity_trigger(input_name="order")
def ship(order: dict) -> str:
    return f"shipped {order.get('item', '?')}"


@app.timer_trigger(schedule="0 */1 * * * *", arg_name="timer", run_on_startup=True)
@app.durable_client_input(client_name="client")
async def tidy_up(timer: func.TimerRequest, client) -> None:
    """Once a minute (and at start): purge finished orchestrations older than a day."""
    from datetime import datetime, timedelta, timezone

    done = [df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Failed]
    result = await client.purge_instance_history_by(
        created_time_from=datetime(2000, 1, 1, tzinfo=timezone.utc),
        created_time_to=datetime.now(timezone.utc) - timedelta(days=1),
        runtime_status=done,
    )
    logging.info("tidy_up past_due=%s purged %s", timer.past_due, result.instances_deleted)
