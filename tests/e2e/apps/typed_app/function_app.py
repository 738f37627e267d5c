"""Custom classes as orchestration and activity data, for the loose and strict typing modes of the SDK."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


class Order:
    """A value with the SDK's JSON protocol (``to_json`` / ``from_json``)."""

    def __init__(self, item: str, count: int) -> None:
        self.item = item
        self.count = count

    @staticmethod
    def to_json(obj: "Order") -> dict:
        return {"item": obj.item, "count": obj.count}

    @staticmethod
    def from_json(data: dict) -> "Order":
        return Order(data["item"], data["count"])


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], None, req.get_json() if req.get_body() else None)
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def ship(context: df.DurableOrchestrationContext):
    order = Order("apples", 3)
    shipped = yield context.call_activity("pack", order)
    return {"type": type(shipped).__name__, "count": shipped.count}


@app.activity_trigger(input_name="order")
def pack(order: Order) -> Order:
    return Order(order.item, order.count * 2)


@app.orchestration_trigger(context_name="context")
def ship_plain(context: df.DurableOrchestrationContext):
    shipped = yield context.call_activity(pack_plain, {"item": "pears", "count": 2})
    return {"type": type(shipped).__name__, "count": shipped.count}


@app.activity_trigger(input_name="order")
def pack_plain(order: dict) -> Order:
    return Order(order["item"], order["count"] * 2)
