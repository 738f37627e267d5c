"""HTTP trigger route templates as the Functions host reads them: ASP.NET Core route templates.

Parses templates such as ``products/{category:alpha}/{id:int?}``, matches URL-decoded request paths against them
and orders them the way the host tries them. Supported: ``{name}``, ``{name?}``, ``{name=default}``, catch-alls
``{*rest}``/``{**rest}``, chained inline constraints (``{id:int:min(1)}``, ``{code:regex(^\\d{{3}}$)}``), complex
segments (``{file}.{ext}``, ``v{version:int}``) and ``{{``/``}}`` for literal braces. Literals match
case-insensitively. Parsing and matching follow ASP.NET Core's ``RoutePatternParser``, ``TemplateMatcher`` and
inline constraint resolver; ordering follows the host's ``WebJobsRouteBuilder``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from dfx.model.encoding import parse_datetime


class RouteTemplateError(ValueError):
    """Raised for a route template that cannot be parsed; the message names the template and the problem."""

    def __init__(self, template: str, problem: str) -> None:
        super().__init__(f"Route {template!r} is invalid: {problem}")
        self.template = template
        self.problem = problem


# -- constraints ----------------------------------------------------------------------------------------------------

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_DECIMAL_LIMIT = Decimal(2**96)
# .NET number parsing (NumberStyles.Integer/Float/Number, invariant culture) allows these around the number.
_WS = "[\t\n\v\f\r ]*"
_INTEGER = re.compile(f"{_WS}([+-]?[0-9]+){_WS}")
_MANTISSA = r"(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)"
_FLOAT = re.compile(f"{_WS}[+-]?{_MANTISSA}(?:[eE][+-]?[0-9]+)?{_WS}")
_DECIMAL = re.compile(f"{_WS}([+-]?)({_MANTISSA})([+-]?){_WS}")
_GUID_D = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID = re.compile(f"{_WS}(?:{_GUID_D}|[0-9a-fA-F]{{32}}|\\{{{_GUID_D}\\}}|\\({_GUID_D}\\)){_WS}")
_ALPHA = re.compile("[A-Za-z]+")
_NET_NAMED_GROUP = re.compile(r"(?<!\\)\(\?<(?![=!])")


def _parse_integer(value: str, low: int, high: int) -> int | None:
    """The value as an integer in ``[low, high]`` (.NET ``TryParse`` rules), or None."""
    found = _INTEGER.fullmatch(value)
    if found is None:
        return None
    number = int(found.group(1))
    return number if low <= number <= high else None


def _is_decimal(value: str) -> bool:
    """Whether ``value`` parses as a .NET ``decimal``: no exponent, a sign before or after, at most 2**96."""
    found = _DECIMAL.fullmatch(value)
    if found is None or (found.group(1) and found.group(3)):
        return False
    return abs(Decimal(found.group(2).replace(",", ""))) < _DECIMAL_LIMIT


def _is_datetime(value: str) -> bool:
    """Whether ``value`` is an ISO 8601 date or date-time (a trailing ``Z`` allowed)."""
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        datetime.fromisoformat(text)
    except ValueError:
        try:
            parse_datetime(value)  # Python 3.10's fromisoformat reads 0, 3 or 6 fraction digits only
        except (ValueError, OverflowError):
            return False
    return True


def _is_file_name(value: str) -> bool:
    """ASP.NET's ``file`` test: the last ``/``-part has a dot followed by something other than dots."""
    name = value[value.rfind("/") + 1 :]
    dot = name.find(".")
    return dot >= 0 and name[dot + 1 :].strip(".") != ""


def _length(value: str) -> int:
    """The length .NET gives ``value`` (UTF-16 code units), as the length constraints count it."""
    return len(value.encode("utf-16-le")) // 2


_SIMPLE_CHECKS: dict[str, Callable[[str], bool]] = {
    "int": lambda v: _parse_integer(v, *_INT32) is not None,
    "long": lambda v: _parse_integer(v, *_INT64) is not None,
    "bool": lambda v: v.strip("\t\n\v\f\r \0").lower() in ("true", "false"),
    "datetime": _is_datetime,
    "decimal": _is_decimal,
    "double": lambda v: _FLOAT.fullmatch(v) is not None,
    "float": lambda v: _FLOAT.fullmatch(v) is not None,
    "guid": lambda v: _GUID.fullmatch(v) is not None,
    "alpha": lambda v: _ALPHA.fullmatch(v) is not None,
    "required": lambda v: v != "",
    "file": _is_file_name,
    "nonfile": lambda v: not _is_file_name(v),
}


@dataclass(frozen=True)
class _Constraint:
    """One inline constraint, e.g. ``min(1)``: its text and the check a route value must pass."""

    text: str
    accepts: Callable[[str], bool] = field(compare=False)


def _integer_args(template: str, name: str, args: str | None, counts: tuple[int, ...], low: int) -> list[int]:
    """The whole-number arguments of constraint ``name``, validated as the .NET constraint constructors do."""
    parts = [] if args is None else [a.strip() for a in args.split(",")]
    if len(parts) not in counts:
        wanted = " or ".join(str(c) for c in counts)
        raise RouteTemplateError(template, f"constraint '{name}' takes {wanted} argument(s), got {len(parts)}")
    numbers = [_parse_integer(p, low, _INT64[1]) for p in parts]
    if None in numbers:
        kind = "non-negative whole numbers" if low == 0 else "whole numbers"
        raise RouteTemplateError(template, f"constraint '{name}' needs {kind} as arguments, got '{args}'")
    return [n for n in numbers if n is not None]


def _constraint(template: str, text: str) -> _Constraint:
    """The constraint for ``text`` (``int``, ``length(1,5)``, ``regex(^a+$)``...); names are case-insensitive."""
    open_paren = text.find("(")
    if open_paren >= 0 and text.endswith(")"):
        key, args = text[:open_paren], text[open_paren + 1 : -1]
    else:
        key, args = text, None
    name = key.lower()
    if name in _SIMPLE_CHECKS:
        if args is not None:
            raise RouteTemplateError(template, f"constraint '{key}' takes no arguments")
        return _Constraint(text, _SIMPLE_CHECKS[name])
    if name == "regex":
        if not args:
            raise RouteTemplateError(template, "constraint 'regex' needs an expression: regex(...)")
        try:
            # .NET spells named groups (?<name>...); ASP.NET does not anchor the expression, so search.
            pattern = re.compile(_NET_NAMED_GROUP.sub("(?P<", args), re.IGNORECASE)
        except re.error as exc:
            raise RouteTemplateError(template, f"regex({args}) is not a valid expression: {exc}") from None
        return _Constraint(text, lambda v: pattern.search(v) is not None)
    if name in ("minlength", "maxlength"):
        (bound,) = _integer_args(template, key, args, (1,), 0)
        if name == "minlength":
            return _Constraint(text, lambda v: _length(v) >= bound)
        return _Constraint(text, lambda v: _length(v) <= bound)
    if name == "length":
        bounds = _integer_args(template, key, args, (1, 2), 0)
        shortest, longest = bounds[0], bounds[-1]
        if shortest > longest:
            raise RouteTemplateError(template, f"constraint '{text}' has its minimum above its maximum")
        return _Constraint(text, lambda v: shortest <= _length(v) <= longest)
    if name in ("min", "max", "range"):
        numbers = _integer_args(template, key, args, (2,) if name == "range" else (1,), _INT64[0])
        low = _INT64[0] if name == "max" else numbers[0]
        high = _INT64[1] if name == "min" else numbers[-1]
        if low > high:
            raise RouteTemplateError(template, f"constraint '{text}' has its minimum above its maximum")
        return _Constraint(text, lambda v: _parse_integer(v, low, high) is not None)
    raise RouteTemplateError(template, f"unknown constraint '{key}'")


# -- template structure ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parameter:
    """A ``{...}`` part of a template: its name, how it may be left out, and its constraints."""

    name: str
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    constraints: tuple[_Constraint, ...] = ()

    def bind(self, value: str | None, values: dict[str, str]) -> bool:
        """Record ``value`` (None when the path has none) in ``values`` if the parameter accepts it."""
        if value is None:
            value = self.default
        if value is None:
            # ASP.NET skips constraints only for '?' parameters; any other constraint rejects a missing value.
            return self.optional or (self.catch_all and not self.constraints)
        if not all(c.accepts(value) for c in self.constraints):
            return False
        values[self.name] = value
        return True


_Part = str | _Parameter


@dataclass(frozen=True)
class _Segment:
    """One ``/``-separated piece of a template: literal text and parameters in order."""

    parts: tuple[_Part, ...]

    @property
    def parameter(self) -> _Parameter | None:
        """The parameter when it makes up the whole segment."""
        only = self.parts[0]
        return only if len(self.parts) == 1 and isinstance(only, _Parameter) else None

    @property
    def literal(self) -> str | None:
        """The text when the segment is plain literal text."""
        only = self.parts[0]
        return only if len(self.parts) == 1 and isinstance(only, str) else None

    @property
    def can_be_empty(self) -> bool:
        """Whether a path may end before this segment (optional, defaulted or catch-all parameter)."""
        parameter = self.parameter
        return parameter is not None and (parameter.optional or parameter.default is not None or parameter.catch_all)

    def precedence(self) -> tuple[int, ...]:
        """Sort key for trying routes: literal, complex, constrained, plain, optional, catch-all (lower first)."""
        if self.literal is not None:
            return (0,)
        parameter = self.parameter
        if parameter is None:
            return (1,)
        optional = parameter.optional or parameter.default is not None
        return (2, int(parameter.catch_all), -len(parameter.constraints), int(optional))

    def match(self, piece: str, values: dict[str, str]) -> bool:
        """Whether request path segment ``piece`` fits; route values it captures go into ``values``."""
        parameter = self.parameter
        if parameter is not None:
            # An empty piece ("a//b") is a missing value: fine for optional and defaulted parameters only.
            return parameter.bind(piece or None, values)
        if not piece:
            return False
        if self.literal is not None:
            return piece.lower() == self.literal.lower()
        captured = _match_complex(self.parts, piece)
        if captured is None:
            return False
        found: dict[str, str] = {}
        for part in self.parts:
            if isinstance(part, _Parameter) and not part.bind(captured.get(part.name), found):
                return False
        values.update(found)
        return True


def _rfind_ignore_case(text: str, sub: str, end: int) -> int:
    """The last index where ``sub`` occurs in ``text[:end]``, ignoring case, or -1."""
    folded = sub.lower()
    for start in range(end - len(sub), -1, -1):
        if text[start : start + len(sub)].lower() == folded:
            return start
    return -1


def _match_complex_from(parts: tuple[_Part, ...], piece: str, last: int) -> dict[str, str] | None:
    """ASP.NET's right-to-left match of ``parts[: last + 1]`` against ``piece``.

    Each literal is found at its last occurrence left of what is already consumed, so the right-most parameter
    gets the shortest value and the left-most the rest: ``{file}.{ext}`` on ``a.b.c`` gives ``a.b`` and ``c``.
    """
    end = len(piece)
    pending: _Parameter | None = None
    captured: dict[str, str] = {}
    for index in range(last, -1, -1):
        part = parts[index]
        new_end = end
        if isinstance(part, _Parameter):
            pending = part
        else:
            limit = end - 1 if pending is not None else end
            if limit <= 0:
                return None
            new_end = _rfind_ignore_case(piece, part, limit)
            if new_end < 0 or (index == last and new_end + len(part) != len(piece)):
                return None
        if pending is not None and (isinstance(part, str) or index == 0):
            value = piece[:end] if isinstance(part, _Parameter) else piece[new_end + len(part) : end]
            if not value:
                return None
            captured[pending.name] = value
            pending = None
        end = new_end
    return captured if end == 0 or isinstance(parts[0], _Parameter) else None


def _match_complex(parts: tuple[_Part, ...], piece: str) -> dict[str, str] | None:
    """The parameter values of a complex segment in ``piece``; a trailing ``.{x?}`` may be absent."""
    captured = _match_complex_from(parts, piece, len(parts) - 1)
    tail = parts[-1]
    if captured is None and isinstance(tail, _Parameter) and tail.optional and not piece.endswith("."):
        captured = _match_complex_from(parts, piece, len(parts) - 3)
    return captured


# -- parsing --------------------------------------------------------------------------------------------------------


def _split_constraints(text: str) -> tuple[list[str], str]:
    """Split ``:c1:c2(args)=default`` into constraint texts and the ``=default`` rest, as ASP.NET does.

    Inside parentheses a ``)`` ends the constraint only before ``:``, ``=`` or the end, and a ``:`` or ``=``
    belongs to the arguments while a ``)`` follows, so ``regex(^(a|b):c$)`` stays whole.
    """
    constraints: list[str] = []
    state, start, index = "start", 0, 0
    while True:
        char = text[index] if index < len(text) else None
        if state == "start":
            if char is None:
                return constraints, ""
            if char == ":":
                state, start = "name", index + 1
            elif char == "(":
                state = "args"
            elif char == "=":
                return constraints, text[index:]
        elif state == "name":
            if char in (None, ":", "=") and index > start:
                constraints.append(text[start:index])
            if char is None:
                return constraints, ""
            if char == ":":
                start = index + 1
            elif char == "(":
                state = "args"
            elif char == "=":
                return constraints, text[index:]
        elif char is None:
            constraints.append(text[start:index])
            return constraints, ""
        elif char == ")":
            after = text[index + 1 : index + 2]
            if after in ("", ":", "="):
                constraints.append(text[start : index + 1])
                if after != ":":
                    return constraints, text[index + 1 :]
                state, start = "start", index + 1
        elif char in ":=":
            close = text.find(")", index + 1)
            if close >= 0:
                index = close - 1
            else:
                constraints.append(text[start:index])
                if char == "=":
                    return constraints, text[index:]
                state, start = "name", index + 1
        index += 1


def _parse_parameter(template: str, text: str) -> _Parameter:
    """The parameter for the text between ``{`` and ``}`` (escaped braces already decoded)."""
    catch_all = text.startswith("*")
    body = text[2:] if text.startswith("**") else text[1:] if catch_all else text
    optional = body.endswith("?")
    if optional:
        body = body[:-1]
    name_end = next((i for i, char in enumerate(body) if char in ":="), len(body))
    name = body[:name_end]
    if not name or any(char in name for char in "/{}=?*"):
        raise RouteTemplateError(
            template, f"parameter name {name!r} must be non-empty and free of '/', '{{', '}}', '=', '?' and '*'"
        )
    constraint_texts, rest = _split_constraints(body[name_end:])
    default = rest[1:] if rest.startswith("=") else None
    if catch_all and optional:
        raise RouteTemplateError(template, f"catch-all parameter {name!r} cannot be optional")
    if optional and default is not None:
        raise RouteTemplateError(template, f"optional parameter {name!r} cannot have a default value")
    constraints = tuple(_constraint(template, c) for c in constraint_texts)
    return _Parameter(name, optional, default, catch_all, constraints)


def _parameter_end(template: str, body: str, start: int) -> int:
    """The index of the ``}`` closing the parameter opened at ``body[start]``; braces inside must be doubled."""
    index = start + 1
    while index < len(body):
        char = body[index]
        if char in "{}" and body.startswith(char * 2, index):
            index += 2
            continue
        if char == "}":
            return index
        if char == "{":
            raise RouteTemplateError(template, "a '{' inside a parameter must be written '{{'")
        index += 1
    raise RouteTemplateError(template, "unclosed '{'")


def _add_literal(template: str, parts: list[_Part], literal: list[str]) -> None:
    """Append the literal text collected so far (if any) to ``parts`` and reset the buffer."""
    if not literal:
        return
    text = "".join(literal)
    if "?" in text:
        raise RouteTemplateError(template, f"literal {text!r} cannot contain '?'")
    parts.append(text)
    literal.clear()


def _scan(template: str, body: str) -> list[_Segment]:
    """The segments of ``body`` (the template without its leading and trailing slashes)."""
    segments: list[_Segment] = []
    parts: list[_Part] = []
    literal: list[str] = []
    index = 0
    while True:
        if index == len(body) or body[index] == "/":
            _add_literal(template, parts, literal)
            if not parts:
                raise RouteTemplateError(template, "it has an empty segment ('//')")
            segments.append(_Segment(tuple(parts)))
            parts = []
            if index == len(body):
                return segments
            index += 1
            continue
        char = body[index]
        if char in "{}" and body.startswith(char * 2, index):
            literal.append(char)
            index += 2
        elif char == "}":
            raise RouteTemplateError(template, "'}' without a matching '{' (write '}}' for a literal brace)")
        elif char == "{":
            end = _parameter_end(template, body, index)
            if not literal and parts and isinstance(parts[-1], _Parameter):
                raise RouteTemplateError(template, "two parameters in a segment need a literal between them")
            _add_literal(template, parts, literal)
            inner = body[index + 1 : end].replace("}}", "}").replace("{{", "{")
            parts.append(_parse_parameter(template, inner))
            index = end + 1
        else:
            literal.append(char)
            index += 1


def _validate(template: str, segments: list[_Segment]) -> None:
    """Apply the rules that span parts and segments: catch-all and optional placement, unique names."""
    names: set[str] = set()
    for index, segment in enumerate(segments):
        for position, part in enumerate(segment.parts):
            if not isinstance(part, _Parameter):
                continue
            if part.name.lower() in names:
                raise RouteTemplateError(template, f"parameter {part.name!r} appears more than once")
            names.add(part.name.lower())
            if part.catch_all and (len(segment.parts) > 1 or index != len(segments) - 1):
                raise RouteTemplateError(template, f"catch-all parameter {part.name!r} must be the whole last segment")
            if part.optional and len(segment.parts) > 1:
                if position != len(segment.parts) - 1:
                    raise RouteTemplateError(template, f"optional parameter {part.name!r} must end its segment")
                if segment.parts[position - 1] != ".":
                    raise RouteTemplateError(
                        template, f"optional parameter {part.name!r} can only follow '.' inside a segment"
                    )
    for index, segment in enumerate(segments):
        parameter = segment.parameter
        if parameter is None or not parameter.optional:
            continue
        for later in segments[index + 1 :]:
            if not later.can_be_empty:
                text = "".join(p if isinstance(p, str) else f"{{{p.name}}}" for p in later.parts)
                raise RouteTemplateError(
                    template, f"optional parameter {parameter.name!r} is followed by the required segment {text!r}"
                )


def _parse(template: str) -> tuple[_Segment, ...]:
    """The validated segments of ``template``."""
    body = template
    if body.startswith("~/"):
        body = body[2:]
    elif body.startswith("~"):
        raise RouteTemplateError(template, "it may start with '~/' but not with '~' alone")
    body = body.strip("/")
    if not body:
        return ()
    segments = _scan(template, body)
    _validate(template, segments)
    return tuple(segments)


# -- public API -----------------------------------------------------------------------------------------------------

_END = (9,)  # sorts after every segment's precedence, so a longer template goes before its own prefix


@dataclass(frozen=True)
class RouteTemplate:
    """A parsed, validated route template that matches request paths; build with :func:`parse_route`."""

    template: str
    _segments: tuple[_Segment, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_segments", _parse(self.template))

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameter names, in template order."""
        return tuple(p.name for s in self._segments for p in s.parts if isinstance(p, _Parameter))

    def sort_key(self) -> tuple[tuple[tuple[int, ...], ...], str, str]:
        """Key whose ascending order is the order to try routes in.

        Segment by segment: literal, complex, constrained (more constraints first), plain, optional or defaulted,
        catch-all; a template goes before its own prefix; ties by template text.
        """
        precedence = (*(segment.precedence() for segment in self._segments), _END)
        return precedence, self.template.lower(), self.template

    def match(self, path: str) -> dict[str, str] | None:
        """The route values for ``path``, or None when the template does not match it.

        ``path`` is the URL-decoded request path after the route prefix, without leading or trailing slash
        (``""`` for the root). Absent optional parameters are left out; defaulted ones get their default.
        """
        path = path.strip("/")
        pieces = path.split("/") if path else []
        values: dict[str, str] = {}
        for index, segment in enumerate(self._segments):
            parameter = segment.parameter
            if parameter is not None and parameter.catch_all:
                return values if parameter.bind("/".join(pieces[index:]) or None, values) else None
            if not segment.match(pieces[index] if index < len(pieces) else "", values):
                return None
        return values if len(pieces) <= len(self._segments) else None


def parse_route(template: str) -> RouteTemplate:
    """Parse and validate ``template``; raises :class:`RouteTemplateError` naming what is wrong."""
    return RouteTemplate(template)


def join_route(prefix: str, route: str) -> str:
    """The full route of a function for display: ``"api"`` + ``"hello/{name}"`` -> ``"api/hello/{name}"``."""
    return "/".join(part.strip("/") for part in (prefix, route) if part.strip("/"))
