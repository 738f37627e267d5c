"""dfx init's files and dfx new's templates: composed as text, compiled, and indexed with the real azure.functions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from dfx.emulator.worker.loader import load_functions
from dfx.scaffold import APP_SCRIPT, TEMPLATES, NewFunction, ScaffoldError, app_files, compose, find_template
from dfx.scaffold.compose import related_files

PLAIN_APP = '''"""A plain HTTP app, as Core Tools' quickstart makes it."""

import azure.functions as func

app = func.FunctionApp()


@app.route(route="ping")
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")
'''

# The functions each template adds (name -> trigger) when composed with --name added_<template>.
ADDED = {
    "http": {"added_http": "httpTrigger"},
    "durable-starter": {"added_durable_starter": "httpTrigger"},
    "orchestrator": {"added_orchestrator": "orchestrationTrigger"},
    "activity": {"added_activity": "activityTrigger"},
    "entity": {"added_entity": "entityTrigger"},
    "timer": {"added_timer": "timerTrigger"},
    "queue": {"added_queue": "queueTrigger"},
    "blueprint": {"added_blueprint": "httpTrigger"},
}
INIT_FUNCTIONS = {"http_start": "httpTrigger", "hello_orchestrator": "orchestrationTrigger", "hello": "activityTrigger"}


def request_for(template: str, **options: str) -> NewFunction:
    name = "added_" + template.replace("-", "_")
    if template == "durable-starter":
        options.setdefault("route", "start/{functionName}")
    return NewFunction(template, name, **options)  # type: ignore[arg-type]


def apply(files: dict[str, str], request: NewFunction) -> dict[str, str]:
    """``files`` after composing ``request`` onto them, each changed Python file checked to compile."""
    plan = compose(request, files)
    for change in plan.changes:
        if change.path.endswith(".py"):
            compile(change.text, change.path, "exec")
    return {**files, **{c.path: c.text for c in plan.changes}}


@pytest.fixture
def index_app(tmp_path: Path) -> Iterator[object]:
    """Write an app's files to a folder and index them with dfx's worker loader (the real azure.functions)."""
    count = 0
    cwd, path, modules = os.getcwd(), list(sys.path), set(sys.modules)

    def index(files: Mapping[str, str]) -> dict[str, str]:
        nonlocal count
        count += 1
        app_dir = tmp_path / f"app{count}"
        for name, text in files.items():
            (app_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (app_dir / name).write_text(text, encoding="utf-8", newline="")
        try:
            return {f.name: f.trigger_type for f in load_functions(app_dir).functions}
        finally:
            os.chdir(cwd)
            sys.path[:] = path
            for module in set(sys.modules) - modules:
                del sys.modules[module]

    yield index


def test_init_app_indexes_an_http_starter_an_orchestrator_and_an_activity(index_app):
    files = app_files("demo")
    assert next(iter(files)) == APP_SCRIPT
    assert index_app(files) == INIT_FUNCTIONS
    text = files[APP_SCRIPT]
    assert "app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)" in text
    assert '@app.route(route="orchestrators/{functionName}", methods=["POST"])' in text
    assert '@app.durable_client_input(client_name="client")' in text
    assert 'context.call_activity("hello", city)' in text
    assert text.startswith('"""demo: ')


def test_init_settings_files_are_what_azure_and_core_tools_expect():
    files = app_files("demo")
    host = json.loads(files["host.json"])
    assert host["version"] == "2.0" and "logging" in host
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    local = json.loads(files["local.settings.json"])
    assert local["IsEncrypted"] is False
    assert local["Values"]["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert local["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "python"
    requirements = [line for line in files["requirements.txt"].splitlines() if not line.startswith("#")]
    assert requirements == ["azure-functions", "azure-functions-durable"]
    gitignore = files[".gitignore"].splitlines()
    for entry in (".venv/", "local.settings.json", "__pycache__/", ".python_packages/", ".dfx/"):
        assert entry in gitignore
    funcignore = files[".funcignore"].splitlines()
    for entry in (".venv", ".git*", "local.settings.json", "tests", ".dfx"):
        assert entry in funcignore


def test_init_title_cannot_break_the_docstring():
    text = app_files('my "quoted" app \\ """')[APP_SCRIPT]
    compile(text, APP_SCRIPT, "exec")


@pytest.mark.parametrize("template", [t.name for t in TEMPLATES])
@pytest.mark.parametrize("base", ["init", "plain"])
def test_every_template_composes_onto_an_app_and_indexes(template, base, index_app):
    files = app_files("demo") if base == "init" else {APP_SCRIPT: PLAIN_APP}
    before = INIT_FUNCTIONS if base == "init" else {"ping": "httpTrigger"}
    composed = apply(files, request_for(template))
    expected = {**before, **ADDED[template]}
    if template == "orchestrator" and base == "plain":
        expected["hello"] = "activityTrigger"  # the activity it calls, added because the app lacked one
    assert index_app(composed) == expected
    for existing_code in files[APP_SCRIPT].split("\n\n\n")[1:]:  # every function the app had, kept verbatim
        assert existing_code in composed[APP_SCRIPT]


def test_durable_templates_on_a_plain_function_app_import_the_durable_sdk_and_list_it():
    files = {APP_SCRIPT: PLAIN_APP, "requirements.txt": "azure-functions\n", "host.json": '{"version": "2.0"}'}
    plan = compose(NewFunction("entity", "counter"), files)
    text = plan.text(APP_SCRIPT) or ""
    assert "import azure.durable_functions as df\nimport azure.functions as func\n" in text
    assert '@app.entity_trigger(context_name="context")' in text
    assert plan.text("requirements.txt") == "azure-functions\nazure-functions-durable\n"
    bundle = json.loads(plan.text("host.json") or "")["extensionBundle"]
    assert bundle["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert any("azure-functions-durable" in note for note in plan.notes)


def test_http_templates_leave_requirements_and_host_json_alone_when_they_have_what_is_needed():
    files = {**app_files("demo")}
    plan = compose(NewFunction("http", "greet"), files)
    assert [c.path for c in plan.changes] == [APP_SCRIPT]


def test_templates_compose_in_a_row_and_the_result_is_ruff_clean(index_app, tmp_path):
    files = app_files("demo")
    expected = dict(INIT_FUNCTIONS)
    for template in TEMPLATES:
        files = apply(files, request_for(template.name))
        expected.update(ADDED[template.name])
    files = apply(files, NewFunction("orchestrator", "orders_flow", activity="ship", blueprint="added_blueprint.py"))
    files = apply(files, NewFunction("timer", "nightly", schedule="0 0 2 * * *", blueprint="jobs/nightly.py"))
    expected.update(orders_flow="orchestrationTrigger", ship="activityTrigger", nightly="timerTrigger")
    assert index_app(files) == expected
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed beside the interpreter")
    app_dir = tmp_path / "ruff"
    for name, text in files.items():
        (app_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (app_dir / name).write_text(text)
    for command in (["check", "--isolated", "--select", "E,F,W,I,B,UP,SIM"], ["format", "--isolated", "--check"]):
        result = subprocess.run([ruff, *command, "."], cwd=app_dir, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_imports_go_into_their_sections_in_sorted_order():
    files = {
        APP_SCRIPT: '"""App."""\n\nimport json\n\nimport azure.functions as func\n\napp = func.FunctionApp()\n',
    }
    text = compose(NewFunction("timer", "tick"), files).text(APP_SCRIPT) or ""
    assert text.startswith('"""App."""\n\nimport json\nimport logging\n\nimport azure.functions as func\n\napp =')
    text = compose(NewFunction("orchestrator", "flow"), files).text(APP_SCRIPT) or ""
    assert "import json\n\nimport azure.durable_functions as df\nimport azure.functions as func\n\napp =" in text


def test_imports_get_a_section_of_their_own_where_none_exists():
    files = {APP_SCRIPT: "from azure import functions as func\n\napp = func.FunctionApp()\n"}
    text = compose(NewFunction("timer", "tick"), files).text(APP_SCRIPT) or ""
    assert text.startswith("import logging\n\nfrom azure import functions as func\n\napp = func.FunctionApp()\n")


def test_the_app_s_own_names_for_the_modules_and_the_app_are_reused(index_app):
    files = {
        APP_SCRIPT: "import azure.durable_functions as durable\nimport azure.functions as af\n\n"
        "my_app = durable.DFApp(http_auth_level=af.AuthLevel.ANONYMOUS)\n"
    }
    for template in ("http", "orchestrator", "entity", "queue"):
        files = apply(files, request_for(template))
    text = files[APP_SCRIPT]
    assert "import azure.functions as func" not in text and "as df" not in text
    assert "@my_app.route(" in text and "af.HttpRequest" in text and "durable.DurableOrchestrationContext" in text
    assert set(index_app(files)) == {"added_http", "added_orchestrator", "hello", "added_entity", "added_queue"}


def test_a_name_the_app_already_has_is_refused_whatever_its_case():
    files = app_files("demo")
    with pytest.raises(ScaffoldError, match=r"already has a function named 'hello' \(function_app.py:\d+\)"):
        compose(NewFunction("activity", "Hello"), files)


def test_a_name_a_registered_blueprint_has_is_refused():
    files = apply(app_files("demo"), NewFunction("blueprint", "orders"))
    with pytest.raises(ScaffoldError, match=r"named 'orders' \(orders.py:\d+\)"):
        compose(NewFunction("http", "orders", route="other"), files)


def test_a_name_the_script_binds_otherwise_is_refused():
    files = {APP_SCRIPT: "import json\n\nimport azure.functions as func\n\napp = func.FunctionApp()\n"}
    with pytest.raises(ScaffoldError, match=r"already binds the name 'json' \(line 1\)"):
        compose(NewFunction("http", "json"), files)


@pytest.mark.parametrize("name", ["my-func", "1st", "class", "match", "_private", "naïve", "x" * 129])
def test_names_that_are_not_python_identifiers_are_refused(name):
    with pytest.raises(ScaffoldError, match="--name"):
        compose(NewFunction("http", name), app_files("demo"))


def test_a_script_that_does_not_parse_is_named_with_its_line():
    files = {APP_SCRIPT: "import azure.functions as func\n\napp = func.FunctionApp(\n\ndef broken(:\n"}
    with pytest.raises(ScaffoldError, match=r"^function_app.py:\d+: ") as info:
        compose(NewFunction("http", "greet"), files)
    assert "\n" not in info.value.message
    with pytest.raises(ScaffoldError, match=r"^function_app.py:\d+: "):
        related_files(NewFunction("http", "greet"), files[APP_SCRIPT])


UNENDED_APP = "import azure.functions as func\napp = func.FunctionApp()"


@pytest.mark.parametrize(
    ("files", "request_"),
    [
        ({APP_SCRIPT: UNENDED_APP}, NewFunction("blueprint", "orders")),
        ({APP_SCRIPT: UNENDED_APP, "shop.py": "import azure.functions as func\nshop = func.Blueprint()"},
         NewFunction("http", "greet", blueprint="shop")),
        ({APP_SCRIPT: "import azure.functions as func\nfrom orders import bp\napp = func.FunctionApp()\n"
                      "app.register_functions(bp)",
          "orders.py": "import azure.functions as func\nbp = func.Blueprint()"},
         NewFunction("blueprint", "billing")),
        ({APP_SCRIPT: UNENDED_APP.replace("\n", "\r\n")}, NewFunction("blueprint", "orders")),
    ],
    ids=["blueprint", "--blueprint FILE", "after the last registration", "crlf"],
)  # fmt: skip
def test_new_on_a_file_without_a_final_newline_stays_valid_python(files, request_, index_app):
    composed = apply(files, request_)
    text = composed[APP_SCRIPT].replace("\r\n", "\n")
    assert "FunctionApp()\n" in text and text.endswith("\n")
    assert all(line.count("register_functions") <= 1 for line in text.splitlines())
    assert request_.name in index_app(composed)


def test_a_composition_that_would_not_compile_is_refused_as_a_dfx_bug(monkeypatch):
    monkeypatch.setattr("dfx.scaffold.templates.render_activity", lambda *args, **kwargs: "def broken(:\n    pass\n")
    with pytest.raises(ScaffoldError, match=r"would have written invalid Python to function_app\.py") as info:
        compose(NewFunction("activity", "pack"), app_files("demo"))
    assert "dfx bug" in (info.value.hint or "")


def test_a_script_that_parses_but_does_not_compile_is_the_file_s_problem():
    files = {APP_SCRIPT: "import azure.functions as func\n\napp = func.FunctionApp()\nreturn 1\n"}
    with pytest.raises(ScaffoldError, match=r"^function_app\.py:4: 'return' outside function") as info:
        compose(NewFunction("http", "greet"), files)
    assert info.value.hint == "Fix the file, then run dfx new again."


def test_a_missing_script_or_app_object_is_refused_with_a_hint():
    with pytest.raises(ScaffoldError, match=r"function_app\.py not found") as info:
        compose(NewFunction("http", "greet"), {})
    assert "dfx init" in (info.value.hint or "")
    with pytest.raises(ScaffoldError, match="defines no function app object"):
        compose(NewFunction("http", "greet"), {APP_SCRIPT: "import azure.functions as func\n"})
    two = "import azure.functions as func\n\na = func.FunctionApp()\nb = func.FunctionApp()\n"
    with pytest.raises(ScaffoldError, match=r"more than one function app \(a, b\)"):
        compose(NewFunction("http", "greet"), {APP_SCRIPT: two})


def test_a_route_the_app_serves_is_refused_and_another_route_is_taken():
    files = app_files("demo")
    with pytest.raises(ScaffoldError, match=r"'orchestrators/\{functionName\}' is already served by http_start"):
        compose(NewFunction("durable-starter", "start2"), files)
    with pytest.raises(ScaffoldError, match=r"served by added_http"):
        compose(NewFunction("http", "other", route="added_http"), apply(files, request_for("http")))
    plan = compose(NewFunction("durable-starter", "start2", route="/jobs/{functionName}/"), files)
    assert '@app.route(route="jobs/{functionName}", methods=["POST"])' in (plan.text(APP_SCRIPT) or "")


def test_a_starter_route_needs_the_function_name_parameter_and_must_parse():
    with pytest.raises(ScaffoldError, match=r"no \{functionName\} parameter"):
        compose(NewFunction("durable-starter", "s", route="start/{name}"), app_files("demo"))
    with pytest.raises(ScaffoldError, match=r"Route 'a/\{b' is invalid"):
        compose(NewFunction("http", "s", route="a/{b"), app_files("demo"))


def test_auth_level_goes_on_the_decorator_in_the_app_s_spelling():
    plan = compose(NewFunction("http", "secret", auth_level="Admin"), app_files("demo"))
    assert '@app.route(route="secret", auth_level=func.AuthLevel.ADMIN)' in (plan.text(APP_SCRIPT) or "")
    with pytest.raises(ScaffoldError, match="--auth-level 'everyone' is not one of function, anonymous, admin"):
        compose(NewFunction("http", "secret", auth_level="everyone"), app_files("demo"))


def test_the_orchestrator_calls_an_existing_activity_or_adds_the_one_it_calls():
    files = app_files("demo")
    plan = compose(NewFunction("orchestrator", "again"), files)
    assert plan.functions == ("again",) and 'call_activity("hello", city)' in (plan.text(APP_SCRIPT) or "")
    assert plan.start_route == "orchestrators/again"  # through the app's HTTP starter
    assert compose(NewFunction("orchestrator", "again"), {APP_SCRIPT: PLAIN_APP}).start_route is None
    plan = compose(NewFunction("orchestrator", "ship_all", activity="ship"), files)
    assert plan.functions == ("ship_all", "ship")
    assert '@app.activity_trigger(input_name="city")\ndef ship(city: str) -> str:' in (plan.text(APP_SCRIPT) or "")
    with pytest.raises(ScaffoldError, match=r"'http_start' .* is not an activity function"):
        compose(NewFunction("orchestrator", "bad", activity="http_start"), files)


def test_options_that_do_not_apply_to_the_template_are_refused():
    with pytest.raises(ScaffoldError, match="--schedule does not apply to the http template") as info:
        compose(NewFunction("http", "greet", schedule="0 * * * * *"), app_files("demo"))
    assert "--auth-level, --route" in (info.value.hint or "")
    with pytest.raises(ScaffoldError, match="--blueprint does not apply to the blueprint template"):
        compose(NewFunction("blueprint", "orders", blueprint="x.py"), app_files("demo"))


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"schedule": "*/5 * * * *"}, "has five fields"),
        ({"schedule": "every minute please"}, "is not an NCRONTAB expression"),
    ],
)
def test_bad_schedules_are_refused(options, fragment):
    with pytest.raises(ScaffoldError, match=fragment):
        compose(NewFunction("timer", "tick", **options), app_files("demo"))


def test_schedules_and_queue_names_from_app_settings_are_taken():
    plan = compose(NewFunction("timer", "tick", schedule="%TickSchedule%"), app_files("demo"))
    assert 'schedule="%TickSchedule%"' in (plan.text(APP_SCRIPT) or "")
    plan = compose(NewFunction("queue", "on_job", queue_name="%JobQueue%", connection="Jobs"), app_files("demo"))
    assert 'queue_name="%JobQueue%", connection="Jobs"' in (plan.text(APP_SCRIPT) or "")


@pytest.mark.parametrize("queue_name", ["Orders", "ab", "a--b", "-ab", "a_b", "x" * 64])
def test_bad_queue_names_are_refused(queue_name):
    with pytest.raises(ScaffoldError, match="is not a valid queue name"):
        compose(NewFunction("queue", "on_job", queue_name=queue_name), app_files("demo"))


def test_the_default_queue_name_is_a_valid_one_made_from_the_function_name():
    plan = compose(NewFunction("queue", "On__New_Order"), app_files("demo"))
    assert 'queue_name="on-new-order-items"' in (plan.text(APP_SCRIPT) or "")


def test_blueprint_template_creates_a_module_and_registers_it_before_indexing(index_app):
    files = apply(app_files("demo"), NewFunction("blueprint", "orders"))
    module = files["orders.py"]
    assert "import azure.durable_functions as df" in module and "\nbp = df.Blueprint()\n" in module
    text = files[APP_SCRIPT]
    assert "import azure.functions as func\n\nfrom orders import bp\n\napp = df.DFApp(" in text
    assert "app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)\napp.register_functions(bp)\n" in text
    files = apply(files, NewFunction("blueprint", "billing"))
    assert "from billing import bp as billing_bp\nfrom orders import bp\n" in files[APP_SCRIPT]
    assert "app.register_functions(bp)\napp.register_functions(billing_bp)\n" in files[APP_SCRIPT]
    assert index_app(files) == {"orders": "httpTrigger", "billing": "httpTrigger", **INIT_FUNCTIONS}


def test_blueprint_names_that_would_shadow_a_module_or_file_are_refused():
    with pytest.raises(ScaffoldError, match="would shadow the 'json' module"):
        compose(NewFunction("blueprint", "json"), app_files("demo"))
    files = {**app_files("demo"), "orders.py": "# someone's module\n"}
    with pytest.raises(ScaffoldError, match=r"orders\.py already exists"):
        compose(NewFunction("blueprint", "orders"), files)


def test_functions_go_into_an_existing_blueprint_which_gets_registered_if_it_was_not(index_app):
    files = {
        **app_files("demo"),
        "shop.py": "import azure.functions as func\n\nshop = func.Blueprint()\n",
    }
    files = apply(files, NewFunction("activity", "pack", blueprint="shop"))
    assert "from shop import shop\n" in files[APP_SCRIPT] and "app.register_functions(shop)\n" in files[APP_SCRIPT]
    assert "@shop.activity_trigger(" in files["shop.py"]
    files = apply(files, NewFunction("entity", "cart", blueprint="./shop.py"))
    assert files[APP_SCRIPT].count("register_functions(shop)") == 1
    assert index_app(files) == {**INIT_FUNCTIONS, "pack": "activityTrigger", "cart": "entityTrigger"}


@pytest.mark.parametrize("value", ["../outside.py", "/abs/path.py", "my-module.py", "__init__.py", APP_SCRIPT])
def test_blueprint_files_must_be_importable_modules_of_the_app(value):
    with pytest.raises(ScaffoldError, match="--blueprint"):
        compose(NewFunction("http", "greet", blueprint=value), app_files("demo"))


def test_a_module_with_no_single_blueprint_is_refused_as_a_target():
    files = {**app_files("demo"), "helpers.py": "def helper():\n    return 1\n"}
    with pytest.raises(ScaffoldError, match=r"helpers\.py defines no blueprint"):
        compose(NewFunction("http", "greet", blueprint="helpers.py"), files)


def test_windows_line_endings_are_kept():
    files = {APP_SCRIPT: PLAIN_APP.replace("\n", "\r\n")}
    text = compose(NewFunction("timer", "tick"), files).text(APP_SCRIPT) or ""
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    compile(text.replace("\r\n", "\n"), APP_SCRIPT, "exec")


def test_a_utf8_bom_is_read_past_and_kept(index_app):
    host = json.dumps({"version": "2.0"})
    files = {APP_SCRIPT: "\ufeff" + PLAIN_APP, "host.json": "\ufeff" + host, "requirements.txt": "azure-functions\n"}
    request = NewFunction("orchestrator", "flow")
    assert "host.json" in related_files(request, files[APP_SCRIPT])  # parsed past the BOM
    composed = apply({path: text.removeprefix("\ufeff") for path, text in files.items()}, request)
    plan = compose(request, files)
    for change in plan.changes:
        bom = "\ufeff" if change.path in ("host.json", APP_SCRIPT) else ""
        assert change.text == bom + composed[change.path], change.path
    assert "extensionBundle" in (plan.text("host.json") or "")
    written = {**files, **{c.path: c.text for c in plan.changes}}
    assert index_app(written) == {"ping": "httpTrigger", "flow": "orchestrationTrigger", "hello": "activityTrigger"}


def test_templates_are_found_by_short_or_core_tools_name_in_any_case():
    assert find_template("Durable Functions HTTP starter").name == "durable-starter"
    assert find_template("durable functions  orchestrator").name == "orchestrator"
    assert find_template("AZURE QUEUE STORAGE TRIGGER").name == "queue"
    assert find_template("HTTP").name == "http"
    with pytest.raises(ScaffoldError, match="There is no template 'blob'") as info:
        find_template("blob")
    assert "http, durable-starter, orchestrator" in (info.value.hint or "")


def test_the_catalogue_has_core_tools_display_names():
    assert {t.name: t.display_name for t in TEMPLATES} == {
        "http": "HTTP trigger",
        "durable-starter": "Durable Functions HTTP starter",
        "orchestrator": "Durable Functions orchestrator",
        "activity": "Durable Functions activity",
        "entity": "Durable Functions entity",
        "timer": "Timer trigger",
        "queue": "Azure Queue Storage trigger",
        "blueprint": "Blueprint",
    }


def test_related_files_name_what_compose_may_read():
    files = apply(app_files("demo"), NewFunction("blueprint", "orders"))
    paths = related_files(NewFunction("http", "greet", blueprint="jobs/nightly"), files[APP_SCRIPT])
    assert paths == ["requirements.txt", "host.json", "orders.py", "orders/__init__.py", "jobs/nightly.py", "greet.py"]
