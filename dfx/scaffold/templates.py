"""The ``dfx new`` templates: their catalogue and the code each one adds to an app or blueprint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from string import Template as Text

from dfx.scaffold.errors import ScaffoldError
from dfx.scaffold.script import AZURE_DURABLE, AZURE_FUNCTIONS

LINE_LENGTH = 88
"""What ruff and black allow by default: generated code stays within it so that formatters leave it alone."""
LOGGING = "logging"
DEFAULT_SCHEDULE = "0 */5 * * * *"
DEFAULT_CONNECTION = "AzureWebJobsStorage"
STARTER_ROUTE = "orchestrators/{functionName}"
DEFAULT_ACTIVITY = "hello"
CITIES = ("Tokyo", "Seattle", "London")


@dataclass(frozen=True)
class Template:
    """One entry of ``dfx templates``."""

    name: str
    display_name: str
    """Core Tools' name for it, which ``dfx new --template`` takes too."""
    description: str
    options: tuple[str, ...] = ()
    """The template options (``--route``, ...) that apply to it, by their field names."""
    modules: tuple[str, ...] = ()
    """The modules its code names, imported where missing."""
    durable: bool = False
    """Whether its code needs the azure-functions-durable package (in requirements.txt for Azure)."""
    bundle: bool = False
    """Whether its trigger needs the extension bundle in host.json on Azure (every non-HTTP trigger)."""


TEMPLATES = (
    Template(
        "http",
        "HTTP trigger",
        "A function that answers HTTP requests on a route.",
        ("auth_level", "route"),
        (LOGGING, AZURE_FUNCTIONS),
    ),
    Template(
        "durable-starter",
        "Durable Functions HTTP starter",
        "An HTTP function that starts the orchestrator named in its URL and answers its status URLs.",
        ("auth_level", "route"),
        (AZURE_FUNCTIONS,),
        durable=True,
        bundle=True,
    ),
    Template(
        "orchestrator",
        "Durable Functions orchestrator",
        "An orchestrator that calls an activity once per city (the activity is added if the app lacks it).",
        ("activity",),
        (AZURE_DURABLE,),
        durable=True,
        bundle=True,
    ),
    Template(
        "activity",
        "Durable Functions activity",
        "An activity: the unit of work that orchestrators call.",
        durable=True,
        bundle=True,
    ),
    Template(
        "entity",
        "Durable Functions entity",
        "A counter entity with add, reset and get operations.",
        (),
        (AZURE_DURABLE,),
        durable=True,
        bundle=True,
    ),
    Template(
        "timer",
        "Timer trigger",
        "A function that runs on an NCRONTAB schedule.",
        ("schedule",),
        (LOGGING, AZURE_FUNCTIONS),
        bundle=True,
    ),
    Template(
        "queue",
        "Azure Queue Storage trigger",
        "A function that runs for each message put on a storage queue.",
        ("queue_name", "connection"),
        (LOGGING, AZURE_FUNCTIONS),
        bundle=True,
    ),
    Template(
        "blueprint",
        "Blueprint",
        "A new module with a df.Blueprint and an HTTP function, registered on the app.",
        ("auth_level", "route"),
        (LOGGING, AZURE_FUNCTIONS),
        durable=True,
    ),
)


def find_template(value: str) -> Template:
    """The template called ``value`` (its short or its Core Tools name, any case)."""
    wanted = " ".join(value.split()).lower()
    for template in TEMPLATES:
        if wanted in (template.name, template.display_name.lower()):
            return template
    raise ScaffoldError(
        f"There is no template {value!r}.",
        hint="Templates: " + ", ".join(t.name for t in TEMPLATES) + " (dfx templates describes them).",
    )


def literal(text: str) -> str:
    """A double-quoted Python string literal of ``text``."""
    return json.dumps(text, ensure_ascii=False)


def call(prefix: str, arguments: list[str], indent: str = "") -> str:
    """``prefix(arguments)`` laid out as ruff format would: one line, one indented line, or one per line."""
    one_line = f"{indent}{prefix}({', '.join(arguments)})"
    if len(one_line) <= LINE_LENGTH:
        return one_line
    inner = indent + "    "
    joined = inner + ", ".join(arguments)
    if len(joined) <= LINE_LENGTH:
        return f"{indent}{prefix}(\n{joined}\n{indent})"
    return f"{indent}{prefix}(\n" + "".join(f"{inner}{a},\n" for a in arguments) + f"{indent})"


@dataclass(frozen=True)
class Names:
    """How the code being added names things in its module: the container and the imported modules."""

    container: str
    func: str = "func"
    df: str = "df"
    logging: str = "logging"

    def substitute(self, text: str, **values: str) -> str:
        return Text(text).substitute(app=self.container, func=self.func, df=self.df, logging=self.logging, **values)


_HTTP = '''
def $name(req: $func.HttpRequest) -> $func.HttpResponse:
    """Say hello to ?name= from the query string or to "name" in a JSON body."""
    name = req.params.get("name")
    if not name and req.get_body():
        try:
            name = req.get_json().get("name")
        except (ValueError, AttributeError):
            return $func.HttpResponse("The body is not a JSON object.", status_code=400)
    $logging.info("$name says hello to %s.", name or "the world")
    return $func.HttpResponse(f"Hello, {name or 'world'}!")
'''

_STARTER = '''
async def $name(req: $func.HttpRequest, client) -> $func.HttpResponse:
    """Start the orchestrator named in the URL, with a JSON body as its input."""
    try:
        payload = req.get_json() if req.get_body() else None
    except ValueError:
        return $func.HttpResponse("The body is not JSON.", status_code=400)
    function_name = req.route_params["functionName"]
    instance_id = await client.start_new(function_name, None, payload)
    return client.create_check_status_response(req, instance_id)
'''

_ORCHESTRATOR = '''
def $name(context: $df.DurableOrchestrationContext):
    """Call the $activity activity for each city in turn; return what it answered."""
    results = []
    for city in $cities:
        results.append((yield context.call_activity($activity_literal, city)))
    return results
'''

_ACTIVITY = '''
def $name($argument: str) -> str:
    """Greet one $argument; the orchestrator's yield receives what an activity returns."""
    return f"Hello {$argument}"
'''

_ENTITY = '''
def $name(context: $df.DurableEntityContext):
    """A counter: "add" adds the operation's input, "reset" sets 0, "get" returns it."""
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
    elif operation == "reset":
        value = 0
    elif operation == "get":
        context.set_result(value)
    context.set_state(value)
'''

_TIMER = '''
def $name(timer: $func.TimerRequest) -> None:
    """Run on the NCRONTAB schedule: second minute hour day month weekday."""
    if timer.past_due:
        $logging.warning("$name is running late.")
    $logging.info("$name ran.")
'''

_QUEUE = '''
def $name(msg: $func.QueueMessage) -> None:
    """Run once for each message put on the queue."""
    body = msg.get_body().decode("utf-8")
    $logging.info("$name got message %s: %s", msg.id, body)
'''

BLUEPRINT_MODULE = '''"""A blueprint: function_app.py registers its functions on the app."""

import azure.durable_functions as df

bp = df.Blueprint()
'''

APP_MODULE = '''"""$title: a Durable Functions app in the Python v2 programming model.

POST /api/orchestrators/hello_orchestrator starts hello_orchestrator, which calls the
hello activity once per city; the answer holds the URLs that report on the instance.
"""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
'''


def _auth(names: Names, auth_level: str | None) -> list[str]:
    return [f"auth_level={names.func}.AuthLevel.{auth_level.upper()}"] if auth_level else []


def render_http(names: Names, name: str, route: str, auth_level: str | None) -> str:
    decorator = call(f"@{names.container}.route", [f"route={literal(route)}", *_auth(names, auth_level)])
    return decorator + names.substitute(_HTTP, name=name)


def render_starter(names: Names, name: str, route: str, auth_level: str | None) -> str:
    arguments = [f"route={literal(route)}", 'methods=["POST"]', *_auth(names, auth_level)]
    decorators = [
        call(f"@{names.container}.route", arguments),
        f'@{names.container}.durable_client_input(client_name="client")',
    ]
    return "\n".join(decorators) + names.substitute(_STARTER, name=name)


def render_orchestrator(names: Names, name: str, activity: str) -> str:
    decorator = f'@{names.container}.orchestration_trigger(context_name="context")'
    cities = "(" + ", ".join(literal(c) for c in CITIES) + ")"
    return decorator + names.substitute(
        _ORCHESTRATOR, name=name, activity=activity, activity_literal=literal(activity), cities=cities
    )


def render_activity(names: Names, name: str, argument: str = "name") -> str:
    decorator = f"@{names.container}.activity_trigger(input_name={literal(argument)})"
    return decorator + names.substitute(_ACTIVITY, name=name, argument=argument)


def render_entity(names: Names, name: str) -> str:
    decorator = f'@{names.container}.entity_trigger(context_name="context")'
    return decorator + names.substitute(_ENTITY, name=name)


def render_timer(names: Names, name: str, schedule: str) -> str:
    arguments = [f"schedule={literal(schedule)}", 'arg_name="timer"', "run_on_startup=False", "use_monitor=False"]
    return call(f"@{names.container}.timer_trigger", arguments) + names.substitute(_TIMER, name=name)


def render_queue(names: Names, name: str, queue_name: str, connection: str) -> str:
    arguments = ['arg_name="msg"', f"queue_name={literal(queue_name)}", f"connection={literal(connection)}"]
    return call(f"@{names.container}.queue_trigger", arguments) + names.substitute(_QUEUE, name=name)


def blueprint_module() -> str:
    """The start of a new blueprint module: its docstring, import and ``bp`` object."""
    return BLUEPRINT_MODULE


def app_module(title: str) -> str:
    """The start of ``dfx init``'s function_app.py, before its functions are composed onto it."""
    safe = " ".join(title.split()).replace("\\", "\\\\").replace('"', '\\"') or "App"
    return Text(APP_MODULE).substitute(title=safe)
