"""Retries: an activity that fails twice, called with RetryOptions, succeeds on its third attempt."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
ATTEMPTS: dict[str, int] = {}


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client) -> func.HttpResponse:
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["functionName"], None, payload)
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def retry_flaky(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=500, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("flaky", options, context.instance_id))


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise ConnectionError(f"attempt {ATTEMPTS[key]}: the service is busy")
    return f"done after {ATTEMPTS[key]} attempts"
