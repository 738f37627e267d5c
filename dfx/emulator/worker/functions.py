"""The function table: each user function with its bindings, checked against its signature as the worker does."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.functions import meta

from dfx.emulator.worker.errors import FunctionLoadError

HTTP_TRIGGER = "httpTrigger"
TIMER_TRIGGER = "timerTrigger"
QUEUE_TRIGGER = "queueTrigger"
ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
ENTITY_TRIGGER = "entityTrigger"
DURABLE_CLIENT = "durableClient"
DURABLE_TRIGGERS = (ORCHESTRATION_TRIGGER, ACTIVITY_TRIGGER, ENTITY_TRIGGER)
#: Trigger binding attribute that overrides the durable name (host-protocol §1.3).
_DURABLE_NAME_KEYS = {
    ORCHESTRATION_TRIGGER: "orchestration",
    ACTIVITY_TRIGGER: "activity",
    ENTITY_TRIGGER: "entityName",
}
_DURABLE_KINDS = {ORCHESTRATION_TRIGGER: "orchestrator", ACTIVITY_TRIGGER: "activity", ENTITY_TRIGGER: "entity"}
_ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT")


@dataclass(frozen=True)
class Binding:
    """One binding of a function, as the decorators declared it."""

    name: str
    type: str
    direction: str  # "IN", "OUT" or "INOUT"
    data_type: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The remaining camelCase attributes (route, methods, queueName, …)."""

    @property
    def is_out(self) -> bool:
        return self.direction == "OUT"


@dataclass(frozen=True)
class Parameter:
    """How one Python parameter is filled: its binding type (``generic`` for raw str/bytes) and annotation."""

    name: str
    binding_type: str
    annotation: Any = None
    is_out: bool = False


@dataclass(frozen=True)
class IndexedFunction:
    """A user function ready to invoke: the callable, its trigger, and its checked parameters."""

    name: str
    callable: Callable[..., Any]
    trigger: Binding
    bindings: tuple[Binding, ...]
    parameters: tuple[Parameter, ...]
    requires_context: bool
    is_async: bool
    return_binding_type: str | None
    return_annotation: Any = None

    @property
    def trigger_type(self) -> str:
        return self.trigger.type

    @property
    def is_http(self) -> bool:
        return self.trigger.type == HTTP_TRIGGER

    @property
    def durable_name(self) -> str:
        """The name orchestrations and clients use: the trigger's override, else the function name."""
        key = _DURABLE_NAME_KEYS.get(self.trigger.type)
        override = self.trigger.settings.get(key) if key else None
        return str(override) if override else self.name

    @property
    def route(self) -> str:
        return str(self.trigger.settings.get("route") or self.name)

    @property
    def methods(self) -> tuple[str, ...]:
        """Upper-case HTTP methods; every method when the decorator named none."""
        declared = self.trigger.settings.get("methods")
        return tuple(str(m).upper() for m in declared) if declared else _ALL_METHODS

    @property
    def auth_level(self) -> str:
        return str(self.trigger.settings.get("authLevel") or "FUNCTION").upper()

    @property
    def durable_client(self) -> Binding | None:
        return next((b for b in self.bindings if b.type == DURABLE_CLIENT), None)


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "name", value)).upper()


def _binding_from_sdk(binding: Any) -> Binding:
    data = binding.get_dict_repr() if hasattr(binding, "get_dict_repr") else dict(vars(binding))
    settings = {k: v for k, v in data.items() if k not in ("name", "type", "direction", "dataType") and v is not None}
    return Binding(
        name=str(data["name"]),
        type=str(data["type"]),
        direction=_enum_name(data.get("direction")) or "IN",
        data_type=_enum_name(data.get("dataType")),
        settings=settings,
    )


def _converter(binding_type: str) -> Any:
    return meta.get_binding_registry().get(binding_type)


def _has_implicit_output(binding_type: str) -> bool:
    converter = _converter(binding_type)
    return bool(converter is not None and getattr(converter, "has_implicit_output", lambda: False)())


def _accepts_input(binding_type: str, annotation: type) -> bool:
    converter = _converter(binding_type) if binding_type != "generic" else None
    if converter is None or not hasattr(converter, "check_input_type_annotation"):
        return issubclass(annotation, (str, bytes))
    return bool(converter.check_input_type_annotation(annotation))


def _accepts_output(binding_type: str, annotation: type) -> bool:
    converter = _converter(binding_type) if binding_type != "generic" else None
    if converter is None or not hasattr(converter, "check_output_type_annotation"):
        return issubclass(annotation, (str, bytes, bytearray))
    return bool(converter.check_output_type_annotation(annotation))


def _is_out_annotation(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and origin.__name__ == "Out"


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", repr(annotation))


def check_function(name: str, fn: Callable[..., Any], bindings: Iterable[Binding]) -> IndexedFunction:
    """Match ``bindings`` to ``fn``'s parameters with the Python worker's rules and error texts (§1.4)."""
    signature = inspect.signature(fn)
    params = dict(signature.parameters)
    try:
        annotations = typing.get_type_hints(fn)
    except Exception as exc:  # an annotation naming something that does not exist
        raise FunctionLoadError(name, f"its annotations cannot be resolved: {exc}") from exc
    all_bindings = tuple(bindings)
    return_type: str | None = None
    bound: dict[str, Binding] = {}
    for binding in all_bindings:
        if binding.direction == "INOUT":
            raise FunctionLoadError(name, '"inout" bindings are not supported')
        if binding.name == "$return":
            if not binding.is_out:
                raise FunctionLoadError(name, '"$return" binding must have direction set to "out"')
            return_type = binding.type
        else:
            bound[binding.name] = binding
    triggers = [b for b in all_bindings if b.type.endswith("Trigger") or b.type == "trigger"]
    if not triggers:
        raise FunctionLoadError(name, "it has no trigger binding")
    trigger = triggers[0]
    if return_type is None and _has_implicit_output(trigger.type):
        return_type = trigger.type

    requires_context = False
    if "context" in params and "context" not in bound:
        requires_context = True
        params.pop("context")
        anno = annotations.get("context")
        if "context" in annotations and (not isinstance(anno, type) or anno.__name__ != "Context"):
            raise FunctionLoadError(
                name, f'the "context" parameter is expected to be of type azure.functions.Context, got {anno!r}'
            )
    if set(params) - set(bound):
        missing = set(params) - set(bound)
        raise FunctionLoadError(
            name, f"the following parameters are declared in Python but not in function.json: {missing!r}"
        )
    if set(bound) - set(params):
        missing = set(bound) - set(params)
        raise FunctionLoadError(
            name, f"the following parameters are declared in function.json but not in Python: {missing!r}"
        )

    parameters = tuple(_check_parameter(name, param, bound[param.name], annotations) for param in params.values())
    return_annotation = annotations.get("return") if return_type is not None else None
    if return_type is not None and "return" in annotations and return_annotation is not type(None):
        if _is_out_annotation(return_annotation):
            raise FunctionLoadError(name, "return annotation should not be azure.functions.Out")
        checkable = isinstance(return_annotation, type) and not _has_implicit_output(return_type)
        if checkable and isinstance(return_annotation, type) and not _accepts_output(return_type, return_annotation):
            raise FunctionLoadError(
                name,
                f'Python return annotation "{return_annotation.__name__}" does not match binding type "{return_type}"',
            )
    return IndexedFunction(
        name=name,
        callable=fn,
        trigger=trigger,
        bindings=all_bindings,
        parameters=parameters,
        requires_context=requires_context,
        is_async=inspect.iscoroutinefunction(fn),
        return_binding_type=return_type,
        return_annotation=return_annotation,
    )


def _check_parameter(
    fn_name: str, param: inspect.Parameter, binding: Binding, annotations: dict[str, Any]
) -> Parameter:
    has_anno = param.name in annotations
    anno = annotations.get(param.name)
    is_param_out = has_anno and _is_out_annotation(anno)
    py_type = anno
    if is_param_out:
        args = typing.get_args(anno)
        if len(args) != 1:
            raise FunctionLoadError(fn_name, f"binding {param.name} has invalid Out annotation {anno!r}")
        py_type = args[0]
    if has_anno and not isinstance(py_type, type) and typing.get_origin(py_type) is None:
        raise FunctionLoadError(fn_name, f"binding {param.name} has invalid non-type annotation {anno!r}")
    if binding.is_out and has_anno and not is_param_out:
        raise FunctionLoadError(
            fn_name,
            f'binding {param.name} is declared to have the "out" direction, but its annotation in Python is not '
            "a subclass of azure.functions.Out",
        )
    if not binding.is_out and is_param_out:
        raise FunctionLoadError(
            fn_name,
            f'binding {param.name} is declared to have the "in" direction in function.json, but its annotation '
            "is azure.functions.Out in Python",
        )
    generic = has_anno and py_type in (str, bytes) and not _has_implicit_output(binding.type)
    binding_type = "generic" if generic else binding.type
    if has_anno and isinstance(py_type, type):
        ok = _accepts_output(binding_type, py_type) if is_param_out else _accepts_input(binding_type, py_type)
        if not ok and not _has_implicit_output(binding.type):
            if binding.data_type is not None:
                raise FunctionLoadError(
                    fn_name,
                    f'{param.name!r} binding type "{binding.type}" and dataType "{binding.data_type}" in '
                    f"function.json do not match the corresponding function parameter's Python type annotation "
                    f'"{py_type.__name__}"',
                )
            raise FunctionLoadError(
                fn_name,
                f'type of {param.name} binding in function.json "{binding.type}" does not match its Python '
                f'annotation "{_type_name(py_type)}"',
            )
    return Parameter(name=param.name, binding_type=binding_type, annotation=py_type, is_out=binding.is_out)


def index_function(sdk_function: Any) -> IndexedFunction:
    """Check one ``azure.functions`` ``Function`` (from ``get_functions()``) and make it invokable."""
    name = sdk_function.get_function_name()
    bindings = [_binding_from_sdk(b) for b in sdk_function.get_bindings()]
    return check_function(name, sdk_function.get_user_function(), bindings)


@dataclass(frozen=True)
class FunctionIndex:
    """Every loaded function by name, with lookups by durable name (case-insensitive, as the extension)."""

    functions: tuple[IndexedFunction, ...] = ()

    def get(self, name: str) -> IndexedFunction | None:
        return next((f for f in self.functions if f.name == name), None)

    def http_functions(self) -> list[IndexedFunction]:
        return [f for f in self.functions if f.is_http]

    def durable(self, trigger_type: str, durable_name: str) -> IndexedFunction | None:
        """The orchestrator, activity or entity called ``durable_name``."""
        wanted = durable_name.lower()
        return next(
            (f for f in self.functions if f.trigger_type == trigger_type and f.durable_name.lower() == wanted), None
        )

    def durable_names(self, trigger_type: str) -> list[str]:
        return [f.durable_name for f in self.functions if f.trigger_type == trigger_type]

    def missing_message(self, trigger_type: str, name: str) -> str:
        """The extension's text for a durable name that no orchestrator, activity or entity function has."""
        kind = _DURABLE_KINDS[trigger_type]
        known = self.durable_names(trigger_type)
        info = (
            f"The following are the known {kind} functions: " + ", ".join(f"'{n}'" for n in known) + "."
            if known
            else f"No {kind} functions are currently registered!"
        )
        return (
            f"The function '{name}' doesn't exist, is disabled, or is not an {kind} function. Additional info: {info}"
        )
