"""ASP.NET Core route templates, as the Functions host matches HTTP trigger routes: parse, match, order.

``{name}``, ``{name?}``, ``{name=default}``, ``{*rest}``/``{**rest}``, constraints such as ``{id:int}`` or
``{code:regex(^\\d{{3}}$)}``, and complex segments such as ``{file}.{ext}``. Literals match case-insensitively.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation


class RouteTemplateError(ValueError):
    """A route template that cannot be parsed; the message names the template and the problem."""

    def __init__(self, template: str, problem: str) -> None:
        super().__init__(f"Route {template!r} is invalid: {problem}")
        self.template = template


Check = Callable[[str], bool]
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"[+-]?\d+")
_ALPHA = re.compile(r"[A-Za-z]+")
_NUMBER_WORDS = {"nan", "inf", "infinity", "-inf", "+inf", "-infinity", "+infinity"}


def _integer(value: str, low: int, high: int) -> bool:
    return bool(_INTEGER.fullmatch(value)) and low <= int(value) <= high


def _float(value: str) -> bool:
    if value.strip().lower() in _NUMBER_WORDS:
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _decimal(value: str) -> bool:
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
        return True
    except ValueError:
        return False


def _guid(value: str) -> bool:
    text = value[1:-1] if value.startswith("{") and value.endswith("}") else value
    if len(text) not in (32, 36):
        return False
    try:
        uuid.UUID(text)
        return True
    except ValueError:
        return False


def _int_args(template: str, name: str, args: list[str], count: tuple[int, ...]) -> list[int]:
    if len(args) not in count:
        raise RouteTemplateError(template, f"constraint '{name}' takes {' or '.join(map(str, count))} argument(s)")
    try:
        return [int(a.strip()) for a in args]
    except ValueError:
        raise RouteTemplateError(template, f"constraint '{name}' needs whole-number arguments, got {args}") from None


def _constraint(template: str, text: str) -> Check:
    """The check for one constraint text such as ``int``, ``min(3)`` or ``regex(^a+$)``."""
    match = re.fullmatch(r"(\w+)(?:\((.*)\))?", text, re.DOTALL)
    if not match:
        raise RouteTemplateError(template, f"constraint {text!r} is malformed")
    name, raw = match.group(1).lower(), match.group(2)
    simple: dict[str, Check] = {
        "int": lambda v: _integer(v, *_INT32),
        "long": lambda v: _integer(v, *_INT64),
        "bool": lambda v: v.lower() in ("true", "false"),
        "datetime": _datetime,
        "decimal": _decimal,
        "double": _float,
        "float": _float,
        "guid": _guid,
        "alpha": lambda v: bool(_ALPHA.fullmatch(v)),
        "required": lambda v: v != "",
    }
    if name in simple:
        if raw is not None:
            raise RouteTemplateError(template, f"constraint '{name}' takes no arguments")
        return simple[name]
    if name == "regex":
        if raw is None:
            raise RouteTemplateError(template, "constraint 'regex' needs an expression")
        try:
            pattern = re.compile(raw, re.IGNORECASE)
        except re.error as exc:
            raise RouteTemplateError(template, f"regex({raw}) is not a valid expression: {exc}") from None
        return lambda v: pattern.search(v) is not None
    args = [] if raw is None else raw.split(",")
    if name == "minlength":
        (low,) = _int_args(template, name, args, (1,))
        return lambda v: len(v) >= low
    if name == "maxlength":
        (high,) = _int_args(template, name, args, (1,))
        return lambda v: len(v) <= high
    if name == "length":
        bounds = _int_args(template, name, args, (1, 2))
        low, high = (bounds[0], bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
        return lambda v: low <= len(v) <= high
    if name in ("min", "max", "range"):
        numbers = _int_args(template, name, args, (2,) if name == "range" else (1,))
        low = numbers[0] if name != "max" else _INT64[0]
        high = numbers[-1] if name != "min" else _INT64[1]
        return lambda v: _integer(v, low, high)
    raise RouteTemplateError(template, f"unknown constraint '{name}'")


@dataclass(frozen=True)
class _Parameter:
    name: str
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    checks: tuple[Check, ...] = ()

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


@dataclass(frozen=True)
class _Segment:
    """One path segment: literal text and parameters in order (a plain segment has one part)."""

    parts: tuple[str | _Parameter, ...]

    @property
    def parameter(self) -> _Parameter | None:
        """The parameter when the whole segment is one parameter."""
        only = self.parts[0] if len(self.parts) == 1 else None
        return only if isinstance(only, _Parameter) else None

    @property
    def is_literal(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def rank(self) -> int:
        """Precedence: literal 1, complex 2, constrained 3, plain 4, optional 5, catch-all 6 (lower first)."""
        parameter = self.parameter
        if self.is_literal:
            return 1
        if parameter is None:
            return 2
        if parameter.catch_all:
            return 6
        if parameter.optional or parameter.default is not None:
            return 5
        return 3 if parameter.checks else 4


def _split_segments(template: str, body: str) -> list[str]:
    segments, depth, current = [], 0, []
    i = 0
    while i < len(body):
        char = body[i]
        if (body.startswith("{{", i) and depth == 0) or (body.startswith("}}", i) and depth == 0):
            current.append(body[i : i + 2])
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise RouteTemplateError(template, "'}' without a matching '{'")
        if char == "/" and depth == 0:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    if depth > 0:
        raise RouteTemplateError(template, "unclosed '{'")
    segments.append("".join(current))
    return segments


def _parse_parameter(template: str, text: str) -> _Parameter:
    catch_all = text.startswith("*")
    text = text.lstrip("*") if catch_all else text
    name_end = next((i for i, c in enumerate(text) if c in ":=?"), len(text))
    name, rest = text[:name_end], text[name_end:]
    if not name or any(c in name for c in "/{}=?*"):
        raise RouteTemplateError(template, f"parameter name {name!r} is not allowed")
    optional = False
    default = None
    checks: list[Check] = []
    while rest.startswith(":"):
        constraint, rest = _take_constraint(template, rest[1:])
        checks.append(_constraint(template, constraint))
    if rest.startswith("="):
        default, rest = rest[1:], ""
    elif rest == "?":
        optional, rest = True, ""
    if rest:
        raise RouteTemplateError(template, f"unexpected {rest!r} in parameter {name!r}")
    if catch_all and optional:
        raise RouteTemplateError(template, f"catch-all parameter {name!r} cannot be optional")
    return _Parameter(name, optional, default, catch_all, tuple(checks))


def _take_constraint(template: str, text: str) -> tuple[str, str]:
    """Split ``text`` after one constraint (parentheses may hold ':', '=' and '?')."""
    depth = 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif (depth == 0 and char in ":=") or (depth == 0 and char == "?" and i == len(text) - 1):
            return text[:i], text[i:]
    if depth:
        raise RouteTemplateError(template, f"constraint {text!r} has unbalanced parentheses")
    return text, ""


def _parse_segment(template: str, text: str) -> _Segment:
    parts: list[str | _Parameter] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("{{", i) or text.startswith("}}", i):
            literal.append(text[i])
            i += 2
        elif text[i] == "{":
            end, depth = i, 0
            for end in range(i, len(text)):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                if depth == 0:
                    break
            inner = text[i + 1 : end].replace("{{", "{").replace("}}", "}")
            if literal:
                parts.append("".join(literal))
                literal = []
            elif parts and isinstance(parts[-1], _Parameter):
                raise RouteTemplateError(template, "two parameters need a literal between them")
            parts.append(_parse_parameter(template, inner))
            i = end + 1
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    return _Segment(tuple(parts))


def _segment_pattern(segment: _Segment) -> re.Pattern[str]:
    """A regex for a complex segment: parameters lazy except the last, like ASP.NET's right-to-left match."""
    parameters = [p for p in segment.parts if isinstance(p, _Parameter)]
    pieces = []
    for part in segment.parts:
        if isinstance(part, str):
            pieces.append(re.escape(part))
        else:
            greedy = part is parameters[0] and len(parameters) > 1
            pieces.append(f"(?P<p{parameters.index(part)}>.+{'' if greedy else '?'})")
    return re.compile("".join(pieces), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class RouteTemplate:
    """A parsed route template that matches request paths and orders itself among other routes."""

    template: str
    _segments: tuple[_Segment, ...] = field(default=(), repr=False, compare=False)

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(p.name for s in self._segments for p in s.parts if isinstance(p, _Parameter))

    def sort_key(self) -> tuple[tuple[int, ...], int, str]:
        ranks = tuple(segment.rank() for segment in self._segments)
        return ranks, -len(self._segments), self.template.lower()

    def match(self, path: str) -> dict[str, str] | None:
        """The route values for ``path`` (decoded, no leading/trailing slash), or None if it does not match."""
        pieces = path.split("/") if path else []
        values: dict[str, str] = {}
        for index, segment in enumerate(self._segments):
            parameter = segment.parameter
            if parameter is not None and parameter.catch_all:
                rest = "/".join(pieces[index:])
                if rest and not parameter.accepts(rest):
                    return None
                if rest or parameter.default is not None:
                    values[parameter.name] = rest or str(parameter.default)
                return values
            if index >= len(pieces):
                if parameter is not None and (parameter.optional or parameter.default is not None):
                    if parameter.default is not None:
                        values[parameter.name] = parameter.default
                    continue
                return None
            piece = pieces[index]
            if piece == "":
                return None
            if segment.is_literal:
                if piece.lower() != "".join(str(p) for p in segment.parts).lower():
                    return None
            elif parameter is not None:
                if not parameter.accepts(piece):
                    return None
                values[parameter.name] = piece
            elif not self._match_complex(segment, piece, values):
                return None
        return values if len(pieces) <= len(self._segments) else None

    @staticmethod
    def _match_complex(segment: _Segment, piece: str, values: dict[str, str]) -> bool:
        found = _segment_pattern(segment).fullmatch(piece)
        if not found:
            return False
        parameters = [p for p in segment.parts if isinstance(p, _Parameter)]
        captured = {p.name: found.group(f"p{i}") for i, p in enumerate(parameters)}
        if not all(p.accepts(captured[p.name]) for p in parameters):
            return False
        values.update(captured)
        return True


def parse_route(template: str) -> RouteTemplate:
    """Parse and validate ``template``; raise :class:`RouteTemplateError` naming what is wrong."""
    body = template.strip()
    body = body[2:] if body.startswith("~/") else body
    body = body.strip("/")
    segments = [_parse_segment(template, text) for text in _split_segments(template, body)] if body else []
    if any(not s.parts for s in segments):
        raise RouteTemplateError(template, "empty segment ('//')")
    names: set[str] = set()
    for index, segment in enumerate(segments):
        for part in segment.parts:
            if not isinstance(part, _Parameter):
                continue
            if part.name.lower() in names:
                raise RouteTemplateError(template, f"parameter {part.name!r} appears twice")
            names.add(part.name.lower())
            if part.catch_all and (segment.parameter is None or index != len(segments) - 1):
                raise RouteTemplateError(template, f"catch-all {{*{part.name}}} must be the whole last segment")
            if part.optional and segment.parameter is None and part is not segment.parts[-1]:
                raise RouteTemplateError(template, f"optional {part.name!r} must end its segment")
    seen_optional = False
    for segment in segments:
        parameter = segment.parameter
        optional = parameter is not None and (
            parameter.optional or parameter.default is not None or parameter.catch_all
        )
        if seen_optional and not optional:
            raise RouteTemplateError(template, "an optional parameter can only be followed by optional ones")
        seen_optional = seen_optional or optional
    return RouteTemplate(template, tuple(segments))


def join_route(prefix: str, route: str) -> str:
    """The full route of a function: ``"api"`` + ``"hello/{name}"`` -> ``"api/hello/{name}"``."""
    parts = [p.strip("/") for p in (prefix, route) if p and p.strip("/")]
    return "/".join(parts)
