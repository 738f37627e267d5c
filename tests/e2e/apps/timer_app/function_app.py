"""Timer functions the e2e tests watch fire: every second, once at startup, a monitored daily one, and a
timer that starts an orchestration through a durable client binding."""

import logging

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.timer_trigger(schedule="*/1 * * * * *", arg_name="timer")
def every_second(timer: func.TimerRequest) -> None:
    logging.info("tick past_due=%s", timer.past_due)


@app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer", run_on_startup=True, use_monitor=False)
def at_startup(timer: func.TimerRequest) -> None:
    logging.info("startup past_due=%s status=%s", timer.past_due, timer.schedule_status)


@app.timer_trigger(schedule="%NIGHTLY%", arg_name="timer")
@app.durable_client_input(client_name="client")
async def nightly(timer: func.TimerRequest, client) -> None:
    instance_id = await client.start_new("report", None, {"past_due": timer.past_due})
    logging.info("nightly past_due=%s started %s", timer.past_due, instance_id)


@app.orchestration_trigger(context_name="context")
def report(context: df.DurableOrchestrationContext):
    return context.get_input()


@app.queue_trigger(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
def on_order(msg: func.QueueMessage) -> None:
    logging.info("order %s dequeue_count=%s", msg.get_body().decode(), msg.dequeue_count)
