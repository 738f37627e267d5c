"""Composing a template onto an app's files: text in, text out, refusing what would not index or deploy."""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dfx.routes import RouteTemplateError, parse_route
from dfx.scaffold import project
from dfx.scaffold import templates as tpl
from dfx.scaffold.errors import ScaffoldError
from dfx.scaffold.imports import NewImport, add_import
from dfx.scaffold.script import (
    AZURE_DURABLE,
    AZURE_FUNCTIONS,
    LOCAL,
    Container,
    DefinedFunction,
    Script,
    import_section,
    parse_script,
)

APP_SCRIPT = "function_app.py"
REQUIREMENTS = "requirements.txt"
HOST_JSON = "host.json"
AUTH_LEVELS = ("function", "anonymous", "admin")
#: The byte order mark some Windows editors start UTF-8 files with; Python and the Functions host skip it.
BOM = "\ufeff"
#: ``dfx new``'s option for each template option field, for messages.
OPTION_FLAGS = {
    "auth_level": "--auth-level",
    "route": "--route",
    "schedule": "--schedule",
    "queue_name": "--queue-name",
    "connection": "--connection",
    "activity": "--activity",
}
_DEFAULT_ALIASES = {AZURE_FUNCTIONS: "func", AZURE_DURABLE: "df", tpl.LOGGING: "logging"}
# Azure function names: a letter, then letters, digits, '_' or '-' (a Python name here, so no '-'), 128 at most.
_FUNCTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")
_SETTING_REFERENCE = re.compile(r"%[A-Za-z0-9_.:-]+%")
_QUEUE_NAME = re.compile(r"[a-z0-9](?:-?[a-z0-9])+")
_SCHEDULE_FIELD = re.compile(r"[0-9A-Za-z*/,?-]+")
_TIMESPAN = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?")
_SETTING_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
_ROUTE_PARAMETER = re.compile(r"\{[^}]*\}")
_STARTER_PARAMETER = re.compile(r"\{functionName(?::[^}]*)?\}")
_RESERVED_MODULES = frozenset({"function_app", "azure", "dfx", "typing_extensions"})


@dataclass(frozen=True)
class NewFunction:
    """What ``dfx new`` was asked for: a template, a name and the template's options (None: not given)."""

    template: str
    name: str
    auth_level: str | None = None
    route: str | None = None
    schedule: str | None = None
    queue_name: str | None = None
    connection: str | None = None
    activity: str | None = None
    blueprint: str | None = None
    """A blueprint module (app-relative path) to add the function to instead of function_app.py."""


@dataclass(frozen=True)
class FileChange:
    """A file to write: its app-relative path, its whole new text, and whether it is new."""

    path: str
    text: str
    created: bool


@dataclass(frozen=True)
class Plan:
    """What composing a template produced; nothing is written until the caller writes ``changes``."""

    template: tpl.Template
    changes: tuple[FileChange, ...]
    functions: tuple[str, ...]
    """The names of the functions added, in file order."""
    routes: tuple[str, ...] = ()
    """The route templates of the HTTP functions added."""
    notes: tuple[str, ...] = ()
    start_route: str | None = None
    """For an orchestrator: the route of the app's HTTP starter that starts it (POST), if the app has one."""

    def text(self, path: str) -> str | None:
        return next((c.text for c in self.changes if c.path == path), None)


def check_function_name(name: str, option: str = "--name") -> str:
    """``name`` if it can be a function name (a Python identifier the Functions host accepts), else refuse."""
    if not _FUNCTION_NAME.fullmatch(name) or keyword.iskeyword(name) or keyword.issoftkeyword(name):
        reason = "is a Python keyword" if keyword.iskeyword(name) or keyword.issoftkeyword(name) else "is not valid"
        raise ScaffoldError(
            f"{option} {name!r} {reason}: a function name is a Python identifier (letters, digits, '_', "
            "starting with a letter), at most 128 characters.",
            hint="For example: --name process_order",
        )
    return name


def module_paths(module: str) -> list[str]:
    """The files a module imported by its dotted name may be, relative to the app folder."""
    base = module.replace(".", "/")
    return [f"{base}.py", f"{base}/__init__.py"]


def blueprint_path(value: str) -> tuple[str, str]:
    """The app-relative path and dotted module name of a ``--blueprint`` file (``orders`` -> ``orders.py``)."""
    text = value.strip().replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    if not text.endswith(".py"):
        text += ".py"
    parts = text[:-3].split("/")
    if text.startswith("/") or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise ScaffoldError(
            f"--blueprint {value!r} is not an importable module inside the app folder.",
            hint="Name a .py file in the app folder (or a subfolder) whose name is a Python identifier.",
        )
    module = ".".join(parts)
    if parts[-1] == "__init__" or text == APP_SCRIPT:
        raise ScaffoldError(
            f"--blueprint {value!r} cannot be {text}.", hint="Name a module of its own, such as --blueprint orders.py"
        )
    return text, module


def related_files(request: NewFunction, app_text: str) -> list[str]:
    """The app-relative files :func:`compose` may read besides function_app.py; pass it those that exist."""
    script = parse_script(app_text.removeprefix(BOM), APP_SCRIPT)
    paths = [REQUIREMENTS, HOST_JSON]
    for registration in script.registrations:
        if registration.module:
            paths += module_paths(registration.module)
    if request.blueprint:
        paths.append(blueprint_path(request.blueprint)[0])
    if request.name.isidentifier():
        paths.append(f"{request.name}.py")
    return list(dict.fromkeys(paths))


def compose(request: NewFunction, files: Mapping[str, str], local_modules: Iterable[str] = ()) -> Plan:
    """Add the function ``request`` asks for to the app whose files (app-relative path -> text) are ``files``.

    ``files`` holds function_app.py and whatever :func:`related_files` named that exists; ``local_modules``
    names the app folder's own modules (for import sorting). Raises :class:`ScaffoldError` for anything that
    would leave the app unable to index: a name taken, a route served twice, a script that does not parse.
    """
    return _Composer(request, files, local_modules).run()


class _Workspace:
    """The app's files as they are and as the composition changes them (line endings and BOMs kept per file)."""

    def __init__(self, files: Mapping[str, str], local_modules: Iterable[str]) -> None:
        self.crlf = {path for path, text in files.items() if "\r\n" in text}
        self.bom = {path for path, text in files.items() if text.startswith(BOM)}
        self.original = {
            path: _lines_ended(path, text.removeprefix(BOM).replace("\r\n", "\n")) for path, text in files.items()
        }
        self.current: dict[str, str] = {}
        self.local_modules = set(local_modules)
        self.local_modules.update(p.split("/")[0].removesuffix(".py") for p in files if p.endswith(".py"))

    def text(self, path: str) -> str | None:
        return self.current.get(path, self.original.get(path))

    def exists(self, path: str) -> bool:
        return self.text(path) is not None

    def script(self, path: str) -> Script:
        text = self.text(path)
        assert text is not None, path
        return parse_script(text, path, self.local_modules)

    def write(self, path: str, text: str) -> None:
        self.current[path] = text

    def changes(self) -> tuple[FileChange, ...]:
        """The files that differ from what was read, each Python one checked to compile."""
        result = []
        for path, text in self.current.items():
            if text == self.original.get(path):
                continue
            if path.endswith(".py"):
                _check_compiles(path, text, self.original.get(path))
            if path in self.crlf:
                text = text.replace("\n", "\r\n")
            if path in self.bom:
                text = BOM + text
            result.append(FileChange(path, text, path not in self.original))
        return tuple(result)


class _Composer:
    """One ``dfx new`` composition: the checks first, then the writes to an in-memory workspace."""

    def __init__(self, request: NewFunction, files: Mapping[str, str], local_modules: Iterable[str]) -> None:
        self.request = request
        self.template = tpl.find_template(request.template)
        self.added: list[str] = []
        self.routes: list[str] = []
        self.notes: list[str] = []
        self.start_route: str | None = None
        self._check_options()
        self.name = check_function_name(request.name)
        if APP_SCRIPT not in files:
            raise ScaffoldError(f"{APP_SCRIPT} not found.", hint="Create an app with: dfx init (or pass --app-dir)")
        self.ws = _Workspace(files, local_modules)
        first = parse_script(self.ws.text(APP_SCRIPT) or "", APP_SCRIPT)
        self.ws.local_modules.update(r.module.split(".")[0] for r in first.registrations if r.module)
        app_script = self.ws.script(APP_SCRIPT)
        self.app = app_script.app()
        self.existing = self._existing_functions(app_script, self.app)

    def run(self) -> Plan:
        name = self.name
        self._refuse_taken(name)
        if self.template.name == "blueprint":
            self._new_blueprint(name)
        elif self.request.blueprint:
            path, module = blueprint_path(self.request.blueprint)
            if not self.ws.exists(path):
                self._check_module_name(module.split(".")[0], "--blueprint")
                self.ws.write(path, tpl.blueprint_module())
            container = self.ws.script(path).blueprint()
            self._add(path, container, name)
            if not self.ws.script(APP_SCRIPT).registers(module, container.variable):
                self._register(module, container.variable)
        else:
            self._add(APP_SCRIPT, self.app, name)
        self._keep_deployable()
        return Plan(
            self.template,
            self.ws.changes(),
            tuple(self.added),
            tuple(self.routes),
            tuple(self.notes),
            self.start_route,
        )

    # -- checks -----------------------------------------------------------------------------------------------

    def _check_options(self) -> None:
        for option, flag in OPTION_FLAGS.items():
            if getattr(self.request, option) is not None and option not in self.template.options:
                takes = ", ".join(OPTION_FLAGS[o] for o in self.template.options) or "no template options"
                raise ScaffoldError(
                    f"{flag} does not apply to the {self.template.name} template.",
                    hint=f"The {self.template.name} template takes {takes}.",
                )
        if self.template.name == "blueprint" and self.request.blueprint is not None:
            raise ScaffoldError(
                "--blueprint does not apply to the blueprint template, which creates its own module.",
                hint="To add a function to an existing blueprint: dfx new -t http -n NAME --blueprint FILE",
            )
        level = self.request.auth_level
        if level is not None and level.lower() not in AUTH_LEVELS:
            raise ScaffoldError(
                f"--auth-level {level!r} is not one of {', '.join(AUTH_LEVELS)}.",
                hint="For example: --auth-level anonymous",
            )

    def _existing_functions(self, app_script: Script, app: Container) -> list[DefinedFunction]:
        """Every function the app indexes: its own and those of the blueprints it registers."""
        found = app_script.functions_of(app.variable)
        for registration in app_script.registrations:
            if registration.app != app.variable:
                continue
            if registration.module is None:
                found += app_script.functions_of(registration.attribute)
                continue
            for path in module_paths(registration.module):
                if self.ws.exists(path):
                    found += self.ws.script(path).functions_of(registration.attribute)
        return found

    def _refuse_taken(self, name: str) -> None:
        wanted = name.lower()
        for function in self.existing:
            if wanted in (function.name.lower(), function.durable_name.lower()):
                raise ScaffoldError(
                    f"The app already has a function named {function.name!r} ({function.where}).",
                    hint="Pick another --name.",
                )

    def _check_module_name(self, module: str, option: str) -> None:
        if module in sys.stdlib_module_names or module in _RESERVED_MODULES:
            raise ScaffoldError(
                f"{option} {module!r} would shadow the {module!r} module the app or its packages import.",
                hint="Pick another name, such as " + f"{module}_functions.",
            )

    def _route(self, default: str) -> str:
        given = self.request.route
        route = (default if given is None else given).strip().strip("/")
        if not route:
            raise ScaffoldError("--route is empty.", hint="Give a route template, such as --route orders/{id}")
        try:
            parse_route(route)
        except RouteTemplateError as exc:
            raise ScaffoldError(str(exc), hint="Route templates look like orders/{id:int} or files/{*path}.") from None
        return route

    def _refuse_served(self, route: str, methods: frozenset[str] | None) -> None:
        key = _ROUTE_PARAMETER.sub("{}", route).lower()
        for function in self.existing:
            if function.kind != "http" or function.route is None:
                continue
            if _ROUTE_PARAMETER.sub("{}", function.route.strip("/")).lower() != key:
                continue
            if methods is None or function.methods is None or methods & function.methods:
                raise ScaffoldError(
                    f"Route {route!r} is already served by {function.name} ({function.where}).",
                    hint="Pick another with --route.",
                )

    # -- writing ---------------------------------------------------------------------------------------------

    def _names(self, path: str, container: Container, modules: Iterable[str]) -> tpl.Names:
        """How code added to ``path`` names its container and modules, importing the modules it lacks."""
        refs: dict[str, str] = {}
        for module in modules:
            script = self.ws.script(path)
            ref = script.reference(module)
            if ref is None:
                alias = _DEFAULT_ALIASES[module]
                if alias in script.bound:
                    raise ScaffoldError(
                        f"{path} uses the name {alias!r} (line {script.bound[alias]}) for something other than "
                        f"{module}, which the {self.template.name} template needs.",
                        hint=f"Import {module} yourself (under any name), then run dfx new again.",
                    )
                statement = f"import {module}" if alias == module else f"import {module} as {alias}"
                new = NewImport(statement, module, import_section(module, self.ws.local_modules))
                self.ws.write(path, add_import(script, new))
                ref = alias
            refs[module] = ref
        return tpl.Names(
            container.variable,
            func=refs.get(AZURE_FUNCTIONS, "func"),
            df=refs.get(AZURE_DURABLE, "df"),
            logging=refs.get(tpl.LOGGING, "logging"),
        )

    def _append(self, path: str, name: str, code: str) -> None:
        script = self.ws.script(path)
        if name in script.bound:
            raise ScaffoldError(
                f"{path} already binds the name {name!r} (line {script.bound[name]}).", hint="Pick another --name."
            )
        text = script.text.rstrip()
        self.ws.write(path, (text + "\n\n\n" if text else "") + code.strip("\n") + "\n")
        self.added.append(name)

    def _add(self, path: str, container: Container, name: str) -> None:
        """Add the requested template's function(s) called ``name`` to ``container`` in ``path``."""
        kind = self.template.name
        request = self.request
        auth = request.auth_level.lower() if request.auth_level else None
        if kind == "http":
            route = self._route(name)
            self._refuse_served(route, None)
            names = self._names(path, container, self.template.modules)
            self._append(path, name, tpl.render_http(names, name, route, auth))
            self.routes.append(route)
        elif kind == "durable-starter":
            route = self._route(tpl.STARTER_ROUTE)
            if "functionName" not in parse_route(route).parameters:
                raise ScaffoldError(
                    f"Route {route!r} has no {{functionName}} parameter, which names the orchestrator to start.",
                    hint="For example: --route start/{functionName}",
                )
            self._refuse_served(route, frozenset({"POST"}))
            names = self._names(path, container, self.template.modules)
            self._append(path, name, tpl.render_starter(names, name, route, auth))
            self.routes.append(route)
        elif kind == "orchestrator":
            self._add_orchestrator(path, container, name)
        elif kind == "activity":
            self._append(path, name, tpl.render_activity(tpl.Names(container.variable), name))
        elif kind == "entity":
            names = self._names(path, container, self.template.modules)
            self._append(path, name, tpl.render_entity(names, name))
        elif kind == "timer":
            schedule = _schedule(request.schedule or tpl.DEFAULT_SCHEDULE)
            names = self._names(path, container, self.template.modules)
            self._append(path, name, tpl.render_timer(names, name, schedule))
        elif kind == "queue":
            queue = _queue_name(request.queue_name or _default_queue(name))
            connection = _connection(request.connection or tpl.DEFAULT_CONNECTION)
            names = self._names(path, container, self.template.modules)
            self._append(path, name, tpl.render_queue(names, name, queue, connection))
        else:  # the blueprint template's example function
            route = self._route(name)
            self._refuse_served(route, None)
            names = self._names(path, container, self.template.modules)
            self._append(path, name, tpl.render_http(names, name, route, auth))
            self.routes.append(route)

    def _add_orchestrator(self, path: str, container: Container, name: str) -> None:
        activity = check_function_name(self.request.activity or tpl.DEFAULT_ACTIVITY, "--activity")
        if activity.lower() == name.lower():
            raise ScaffoldError(
                f"The orchestrator and the activity it calls are both named {name!r}.", hint="Pass --activity NAME."
            )
        known = next((f for f in self.existing if activity.lower() in (f.name.lower(), f.durable_name.lower())), None)
        if known is not None and known.kind != "activity":
            raise ScaffoldError(
                f"{known.name!r} ({known.where}) is not an activity function, so the orchestrator cannot call it.",
                hint="Pass --activity NAME to call another activity (dfx adds it if the app lacks it).",
            )
        names = self._names(path, container, self.template.modules)
        self._append(path, name, tpl.render_orchestrator(names, name, known.durable_name if known else activity))
        if known is None:
            self._append(path, activity, tpl.render_activity(names, activity, "city"))
            self.notes.append(f"The app had no {activity!r} activity, so dfx added one for {name} to call.")
        starter = next(
            (f for f in self.existing if f.kind == "http" and _STARTER_PARAMETER.search(f.route or "")), None
        )
        if starter is not None and starter.route is not None:
            self.start_route = _STARTER_PARAMETER.sub(name, starter.route.strip("/"))

    def _new_blueprint(self, name: str) -> None:
        self._check_module_name(name, "--name")
        path = f"{name}.py"
        if self.ws.exists(path):
            raise ScaffoldError(
                f"{path} already exists.",
                hint=f"Pick another --name, or add functions to it with: dfx new -t http -n NAME --blueprint {path}",
            )
        self.ws.local_modules.add(name)
        self.ws.write(path, tpl.blueprint_module())
        container = self.ws.script(path).blueprint()
        self._add(path, container, name)
        self._register(name, container.variable)

    def _register(self, module: str, attribute: str) -> None:
        """Import ``module.attribute`` into function_app.py and register it on the app right after the app."""
        self.ws.local_modules.add(module.split(".")[0])
        script = self.ws.script(APP_SCRIPT)
        alias = attribute if attribute not in script.bound else f"{module.rsplit('.', 1)[-1]}_{attribute}"
        if alias in script.bound:
            raise ScaffoldError(
                f"{APP_SCRIPT} already binds {attribute!r} and {alias!r}, the names dfx would import {module} as.",
                hint=f"Register it yourself: from {module} import {attribute} as ... and app.register_functions(...)",
            )
        statement = f"from {module} import {attribute}" + (f" as {alias}" if alias != attribute else "")
        self.ws.write(APP_SCRIPT, add_import(script, NewImport(statement, module, LOCAL, from_import=True)))
        script = self.ws.script(APP_SCRIPT)
        app = script.app()
        after = [r for r in script.registrations if r.app == app.variable and r.line > app.end_line]
        at = after[-1].end_line if after else app.end_line
        lines = script.text.splitlines(keepends=True)
        lines.insert(at, f"{app.variable}.register_functions({alias})\n")
        self.ws.write(APP_SCRIPT, "".join(lines))
        self.notes.append(f"{APP_SCRIPT} now imports {module} and registers its {attribute} on {app.variable}.")

    def _keep_deployable(self) -> None:
        """requirements.txt and host.json as Azure needs them for what was added."""
        requirements = self.ws.text(REQUIREMENTS)
        packages = [project.FUNCTIONS_PACKAGE] + ([project.DURABLE_PACKAGE] if self.template.durable else [])
        if requirements is None:
            self.notes.append(f"The app has no {REQUIREMENTS}; Azure installs what it lists: {', '.join(packages)}.")
        else:
            for package in packages:
                updated = project.add_requirement(requirements, package)
                if updated is not None:
                    requirements = updated
                    self.ws.write(REQUIREMENTS, updated)
                    self.notes.append(f"Added {package} to {REQUIREMENTS}.")
        host = self.ws.text(HOST_JSON)
        if self.template.bundle and host is not None:
            updated = project.add_extension_bundle(host)
            if updated is not None:
                self.ws.write(HOST_JSON, updated)
                self.notes.append(
                    f"Added the extension bundle to {HOST_JSON}: Azure needs it for {self.template.display_name} "
                    "functions."
                )


def _lines_ended(path: str, text: str) -> str:
    """A script's text with its last line ended, so that a line inserted after it starts a line of its own."""
    return text + "\n" if path.endswith(".py") and text and not text.endswith("\n") else text


def _check_compiles(path: str, text: str, original: str | None) -> None:
    """Refuse to hand back a script that would not compile: a bug of dfx new must not reach the user's file."""
    try:
        compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        try:
            compile(original or "", path, "exec", dont_inherit=True)
        except SyntaxError as own:  # parses, but does not compile (a module-level return): the file's problem
            raise ScaffoldError(
                f"{path}:{own.lineno}: {own.msg}", hint="Fix the file, then run dfx new again."
            ) from None
        raise ScaffoldError(
            f"dfx new would have written invalid Python to {path} (line {exc.lineno}: {exc.msg}); nothing was written.",
            hint="This is a dfx bug: please report it with the file. Add the function by hand meanwhile.",
        ) from None


def _schedule(value: str) -> str:
    schedule = " ".join(value.split())
    fields = schedule.split(" ")
    if _SETTING_REFERENCE.fullmatch(schedule) or _TIMESPAN.fullmatch(schedule):
        return schedule
    if len(fields) == 6 and all(_SCHEDULE_FIELD.fullmatch(f) for f in fields):
        return schedule
    problem = "has five fields; NCRONTAB starts with seconds" if len(fields) == 5 else "is not an NCRONTAB expression"
    raise ScaffoldError(
        f"--schedule {value!r} {problem}.",
        hint=f"Six fields, second minute hour day month day-of-week: --schedule {tpl.DEFAULT_SCHEDULE!r}",
    )


def _default_queue(name: str) -> str:
    base = re.sub("-+", "-", name.lower().replace("_", "-")).strip("-")[:57].strip("-")
    return f"{base}-items"


def _queue_name(value: str) -> str:
    if _SETTING_REFERENCE.fullmatch(value) or (3 <= len(value) <= 63 and _QUEUE_NAME.fullmatch(value)):
        return value
    raise ScaffoldError(
        f"--queue-name {value!r} is not a valid queue name.",
        hint="Queue names are 3-63 lowercase letters, digits and single hyphens, starting and ending with a "
        "letter or digit (or %Setting% to read it from an app setting).",
    )


def _connection(value: str) -> str:
    if _SETTING_NAME.fullmatch(value):
        return value
    raise ScaffoldError(
        f"--connection {value!r} is not an app setting name.",
        hint="Name the app setting that holds the connection, such as AzureWebJobsStorage.",
    )
