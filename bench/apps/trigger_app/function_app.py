"""The bench's trigger app: a no-op queue function and a one-second timer."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="bench-in", connection="AzureWebJobsStorage")
def noop(msg: func.QueueMessage) -> None:
    pass


@app.timer_trigger(schedule="*/1 * * * * *", arg_name="timer")
def tick(timer: func.TimerRequest) -> None:
    pass
