"""The worker's indexing rules and conversions, against the real azure.functions package."""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func
import pytest

from dfx.emulator.worker.converters import ConversionError, build_http_request, encode_http_result
from dfx.emulator.worker.errors import FunctionLoadError
from dfx.emulator.worker.functions import Binding, check_function, index_function

HTTP_BINDINGS = [Binding("req", "httpTrigger", "IN"), Binding("$return", "http", "OUT")]


def test_a_parameter_without_a_binding_fails_with_the_workers_text():
    def f(req: func.HttpRequest, extra: str) -> func.HttpResponse: ...

    with pytest.raises(FunctionLoadError) as info:
        check_function("f", f, HTTP_BINDINGS)
    assert str(info.value) == (
        "cannot load the f function: the following parameters are declared in Python but not in function.json: "
        "{'extra'}"
    )


def test_a_binding_without_a_parameter_fails_with_the_workers_text():
    def f() -> str: ...

    with pytest.raises(FunctionLoadError, match=r"declared in function.json but not in Python: \{'req'\}"):
        check_function("f", f, HTTP_BINDINGS)


def test_context_parameter_gets_no_binding_but_must_be_annotated_context():
    def good(req: func.HttpRequest, context: func.Context) -> str: ...

    def bad(req: func.HttpRequest, context: int) -> str: ...

    assert check_function("good", good, HTTP_BINDINGS).requires_context
    with pytest.raises(
        FunctionLoadError, match=r'"context" parameter is expected to be of type azure\.functions\.Context'
    ):
        check_function("bad", bad, HTTP_BINDINGS)


def test_out_annotation_must_match_the_binding_direction():
    def in_as_out(req: func.Out[str]) -> str: ...

    with pytest.raises(FunctionLoadError, match='declared to have the "in" direction'):
        check_function("x", in_as_out, HTTP_BINDINGS)

    def out_not_out(req: func.HttpRequest, msg: str) -> str: ...

    bindings = [*HTTP_BINDINGS, Binding("msg", "queue", "OUT")]
    with pytest.raises(FunctionLoadError, match='declared to have the "out" direction'):
        check_function("x", out_not_out, bindings)


def test_a_wrong_trigger_annotation_names_binding_and_type():
    def f(req: int) -> str: ...

    with pytest.raises(FunctionLoadError, match='does not match its Python annotation "int"') as info:
        check_function("f", f, [Binding("req", "timerTrigger", "IN"), Binding("$return", "http", "OUT")])
    assert "timerTrigger" in str(info.value)


def test_a_return_annotation_the_http_binding_cannot_carry_is_refused():
    def f(req: func.HttpRequest) -> int: ...

    with pytest.raises(FunctionLoadError, match='Python return annotation "int" does not match binding type "http"'):
        check_function("f", f, HTTP_BINDINGS)


def test_durable_decorators_index_with_their_durable_names():
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="start/{name}")
    @app.durable_client_input(client_name="client")
    async def starter(req: func.HttpRequest, client) -> func.HttpResponse: ...

    @app.orchestration_trigger(context_name="context", orchestration="Renamed")
    def orch(context):
        yield None

    @app.activity_trigger(input_name="city")
    def say(city: str) -> str:
        return city

    functions = {f.name: f for f in map(index_function, app.get_functions())}
    assert functions["starter"].is_async and functions["starter"].durable_client is not None
    assert functions["orch"].durable_name == "Renamed" and functions["orch"].return_binding_type
    assert functions["say"].durable_name == "say" and functions["starter"].route == "start/{name}"


def test_http_request_has_lower_case_headers_joined_values_and_no_empty_params():
    request = build_http_request(
        "post",
        "http://localhost:7071/api/x?a=1&a=2&empty=",
        [("X-One", "1"), ("x-one", "2"), ("Content-Type", "application/json")],
        [("a", "1"), ("a", "2"), ("empty", "")],
        {"id": "7"},
        b'{"k": 1}',
    )
    assert request.method == "POST" and request.headers["x-one"] == "1,2"
    assert dict(request.params) == {"a": "1,2"} and request.route_params == {"id": "7"}
    assert request.get_json() == {"k": 1}


def test_http_results_convert_like_the_worker():
    text = encode_http_result("hi")
    assert (text.status, text.body) == (200, b"hi")
    response = encode_http_result(func.HttpResponse(json.dumps({"a": 1}), status_code=201, mimetype="application/json"))
    assert response.status == 201 and ("content-type", "application/json") in response.headers
    with pytest.raises(ConversionError, match='Python type "dict"'):
        encode_http_result({"a": 1})
    with pytest.raises(ConversionError):
        encode_http_result(None)


@pytest.mark.parametrize(
    "text",
    ["2024-05-01T10:00:00.1234567Z", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5+00:00", "2024-05-01 10:00"],
)
def test_the_sdk_timestamp_parser_agrees_with_dateutil(text):
    from dateutil.parser import parse

    from dfx.emulator.worker.sdk_speedups import parse_timestamp

    assert parse_timestamp(text) == parse(text)
