"""What ``dfx new`` reads from an app script with ``ast``: its app or blueprint objects, imports and functions."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from dfx.scaffold.errors import ScaffoldError

AZURE_FUNCTIONS = "azure.functions"
AZURE_DURABLE = "azure.durable_functions"
#: The classes whose instances the worker indexes (``FunctionRegister`` subclasses).
APP_CLASSES = frozenset(
    {
        f"{AZURE_FUNCTIONS}.FunctionApp",
        f"{AZURE_FUNCTIONS}.AsgiFunctionApp",
        f"{AZURE_FUNCTIONS}.WsgiFunctionApp",
        f"{AZURE_DURABLE}.DFApp",
    }
)
#: Containers of functions that an app registers with ``app.register_functions(bp)``.
BLUEPRINT_CLASSES = frozenset({f"{AZURE_FUNCTIONS}.Blueprint", f"{AZURE_DURABLE}.Blueprint"})
_SHORT_MODULES = {AZURE_FUNCTIONS: "func", AZURE_DURABLE: "df"}
_REGISTER_METHODS = ("register_functions", "register_blueprint")

#: Trigger decorators and the kind of function each one makes.
TRIGGER_KINDS = {
    "route": "http",
    "orchestration_trigger": "orchestrator",
    "activity_trigger": "activity",
    "entity_trigger": "entity",
    "timer_trigger": "timer",
    "schedule": "timer",
    "queue_trigger": "queue",
}
#: The trigger argument that renames a durable function (the name orchestrations and clients use).
_DURABLE_NAME_ARGUMENTS = {
    "orchestration_trigger": "orchestration",
    "activity_trigger": "activity",
    "entity_trigger": "entity_name",
}

# Import sections in the order isort (and ruff) keep them.
FUTURE, STDLIB, THIRD_PARTY, LOCAL = range(4)


@dataclass(frozen=True)
class Container:
    """A module-level app or blueprint object, such as ``app = df.DFApp(...)``."""

    variable: str
    qualname: str
    """The class, fully qualified: ``azure.durable_functions.DFApp``."""
    line: int
    end_line: int

    @property
    def is_app(self) -> bool:
        return self.qualname in APP_CLASSES

    @property
    def display(self) -> str:
        """The class the way code usually spells it: ``df.DFApp``, ``func.FunctionApp``."""
        module, _, cls = self.qualname.rpartition(".")
        return f"{_SHORT_MODULES.get(module, module)}.{cls}"


@dataclass(frozen=True)
class DefinedFunction:
    """A function that a container of the script declares with its decorators."""

    name: str
    """The function name the host sees: ``@app.function_name(...)``, else the Python name."""
    python_name: str
    container: str
    kind: str
    """``http``, ``orchestrator``, ``activity``, ``entity``, ``timer``, ``queue`` or ``other``."""
    durable_name: str
    route: str | None
    """An HTTP function's route template (its name when the decorator gives none); None if not a literal."""
    methods: frozenset[str] | None
    """An HTTP function's methods, upper case; None for every method."""
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class ImportStatement:
    """One statement of the script's leading import block, with what isort sorts it by."""

    module: str
    from_import: bool
    section: int
    line: int
    end_line: int

    @property
    def sort_key(self) -> tuple[bool, str]:
        return self.from_import, self.module.lower()


@dataclass(frozen=True)
class Registration:
    """An ``app.register_functions(x)`` call at the top level, and which module attribute ``x`` is."""

    app: str
    module: str | None
    """The module the registered object is imported from; None when the script defines it."""
    attribute: str
    line: int
    end_line: int


@dataclass(frozen=True)
class Script:
    """One parsed app script or blueprint module: everything ``dfx new`` needs to extend it."""

    path: str
    text: str
    names: Mapping[str, str]
    """Module-level names bound by imports -> what they import (``func`` -> ``azure.functions``)."""
    bound: Mapping[str, int]
    """Every module-level name -> the line that binds it first."""
    containers: tuple[Container, ...]
    functions: tuple[DefinedFunction, ...]
    imports: tuple[ImportStatement, ...]
    registrations: tuple[Registration, ...]
    docstring_end: int
    """The last line of the module docstring (0 without one)."""

    def reference(self, module: str) -> str | None:
        """How code in this script names ``module``: its alias (``func``), a dotted path, or None if not imported."""
        for local, target in self.names.items():
            if target == module:
                return local
        for local, target in self.names.items():
            if module.startswith(target + ".") and "." not in local:
                return local + module[len(target) :]
        return None

    def app(self) -> Container:
        """The one function app object (the worker refuses a script with none or several)."""
        apps = [c for c in self.containers if c.is_app]
        if not apps:
            raise ScaffoldError(
                f"{self.path} defines no function app object at its top level.",
                hint="Add app = func.FunctionApp() (or df.DFApp()), or create an app with: dfx init",
            )
        if len(apps) > 1:
            raise ScaffoldError(
                f"{self.path} defines more than one function app ({', '.join(a.variable for a in apps)}).",
                hint="Keep one app object; the worker refuses a script with several.",
            )
        return apps[0]

    def blueprint(self) -> Container:
        """The one blueprint object of a blueprint module."""
        found = [c for c in self.containers if not c.is_app]
        if len(found) != 1:
            what = "no blueprint" if not found else f"{len(found)} blueprints"
            raise ScaffoldError(
                f"{self.path} defines {what} at its top level (bp = df.Blueprint()).",
                hint="Give --blueprint a module with exactly one blueprint object, or a new file name.",
            )
        return found[0]

    def functions_of(self, container: str) -> list[DefinedFunction]:
        return [f for f in self.functions if f.container == container]

    def registers(self, module: str, attribute: str) -> bool:
        return any(r.module == module and r.attribute == attribute for r in self.registrations)


def parse_script(text: str, path: str, local_modules: Iterable[str] = ()) -> Script:
    """Parse ``text`` (the file at ``path``) or fail with one line naming the file and line."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise ScaffoldError(f"{path}:{exc.lineno}: {exc.msg}", hint="Fix the file, then run dfx new again.") from None
    local = frozenset(local_modules)
    names = _import_names(tree.body)
    containers = tuple(_containers(tree.body, names))
    variables = {c.variable for c in containers}
    docstring_end = 0
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        docstring_end = body[0].end_lineno or body[0].lineno if isinstance(body[0].value.value, str) else 0
    return Script(
        path=path,
        text=text,
        names=names,
        bound=_bound_names(tree.body),
        containers=containers,
        functions=tuple(_functions(tree.body, variables, path)),
        imports=tuple(_leading_imports(tree.body, local)),
        registrations=tuple(_registrations(tree.body, names, variables)),
        docstring_end=docstring_end,
    )


def import_section(module: str, local_modules: Iterable[str] = (), level: int = 0) -> int:
    """The isort section of an imported module: future, standard library, third party or the app's own."""
    top = module.split(".")[0]
    if level or top in local_modules:
        return LOCAL
    if module == "__future__":
        return FUTURE
    if top in sys.stdlib_module_names:
        return STDLIB
    return THIRD_PARTY


def _import_names(body: list[ast.stmt]) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names.setdefault(alias.asname, alias.name)
                else:
                    top = alias.name.split(".")[0]
                    names.setdefault(top, top)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    names.setdefault(alias.asname or alias.name, f"{node.module}.{alias.name}")
    return names


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _qualify(dotted: str, names: Mapping[str, str]) -> str | None:
    head, _, rest = dotted.partition(".")
    target = names.get(head)
    if target is None:
        return None
    return f"{target}.{rest}" if rest else target


def _containers(body: list[ast.stmt], names: Mapping[str, str]) -> Iterator[Container]:
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target: ast.expr = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        else:
            continue
        value = node.value
        if not isinstance(target, ast.Name) or not isinstance(value, ast.Call):
            continue
        dotted = _dotted(value.func)
        qualname = _qualify(dotted, names) if dotted else None
        if qualname in APP_CLASSES or qualname in BLUEPRINT_CLASSES:
            assert qualname is not None
            yield Container(target.id, qualname, node.lineno, node.end_lineno or node.lineno)


def _target_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _statement_names(node: ast.stmt) -> Iterator[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name
    elif isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.asname or alias.name.split(".")[0]
    elif isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if alias.name != "*":
                yield alias.asname or alias.name
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            yield from _target_names(target)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
        yield from _target_names(node.target)
    elif isinstance(node, ast.With | ast.AsyncWith):
        for item in node.items:
            if item.optional_vars is not None:
                yield from _target_names(item.optional_vars)


def _bound_names(body: list[ast.stmt]) -> dict[str, int]:
    """Module-level bindings, including those inside top-level if/try/for/with blocks."""
    bound: dict[str, int] = {}
    pending = list(body)
    while pending:
        node = pending.pop(0)
        for name in _statement_names(node):
            bound.setdefault(name, node.lineno)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for field in ("body", "orelse", "finalbody"):
                pending.extend(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                if handler.name:
                    bound.setdefault(handler.name, handler.lineno)
                pending.extend(handler.body)
    return bound


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _argument(call: ast.Call, keyword: str, position: int | None = 0) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _methods(node: ast.expr | None) -> frozenset[str] | None:
    if not isinstance(node, ast.List | ast.Tuple | ast.Set):
        return None
    methods = set()
    for element in node.elts:
        text = _literal(element)
        if text is None and isinstance(element, ast.Attribute):
            text = element.attr
        if text is None:
            return None
        methods.add(text.upper())
    return frozenset(methods)


def _functions(body: list[ast.stmt], containers: set[str], path: str) -> Iterator[DefinedFunction]:
    for node in body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        owner = None
        name = node.name
        trigger: tuple[str, ast.Call | None] | None = None
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)):
                continue
            if target.value.id not in containers:
                continue
            owner = target.value.id
            if target.attr == "function_name" and call is not None:
                name = _literal(_argument(call, "name")) or name
            elif target.attr in TRIGGER_KINDS or target.attr.endswith("_trigger"):
                trigger = (target.attr, call)
        if owner is None:
            continue
        attr, call = trigger if trigger else ("", None)
        durable_key = _DURABLE_NAME_ARGUMENTS.get(attr)
        durable_name = (_literal(_argument(call, durable_key, 1)) if call and durable_key else None) or name
        route: str | None = None
        methods: frozenset[str] | None = None
        if attr == "route":
            route_node = _argument(call, "route") if call else None
            route = name if route_node is None else _literal(route_node)
            methods = _methods(_argument(call, "methods", 3)) if call else None
        yield DefinedFunction(
            name=name,
            python_name=node.name,
            container=owner,
            kind=TRIGGER_KINDS.get(attr, "other"),
            durable_name=durable_name,
            route=route,
            methods=methods,
            path=path,
            line=node.lineno,
        )


def _leading_imports(body: list[ast.stmt], local: frozenset[str]) -> Iterator[ImportStatement]:
    start = 1 if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else 0
    for node in body[start:]:
        if isinstance(node, ast.Import):
            module = node.names[0].name
            section = import_section(module, local)
            yield ImportStatement(module, False, section, node.lineno, node.end_lineno or node.lineno)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            section = import_section(node.module or "", local, node.level)
            yield ImportStatement(module, True, section, node.lineno, node.end_lineno or node.lineno)
        else:
            return


def _registrations(body: list[ast.stmt], names: Mapping[str, str], containers: set[str]) -> Iterator[Registration]:
    for node in body:
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            continue
        call = node.value
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in _REGISTER_METHODS):
            continue
        if not isinstance(func.value, ast.Name) or len(call.args) != 1:
            continue
        argument = call.args[0]
        end = node.end_lineno or node.lineno
        if isinstance(argument, ast.Name) and argument.id in containers:
            yield Registration(func.value.id, None, argument.id, node.lineno, end)
            continue
        dotted = _dotted(argument)
        qualified = _qualify(dotted, names) if dotted else None
        if qualified and "." in qualified:
            module, _, attribute = qualified.rpartition(".")
            yield Registration(func.value.id, module, attribute, node.lineno, end)
