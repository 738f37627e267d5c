"""Route templates parse, match and sort as ASP.NET Core's do in the Functions host."""

from __future__ import annotations

import pytest

from dfx.routes import RouteTemplate, RouteTemplateError, join_route, parse_route


def match(template: str, path: str) -> dict[str, str] | None:
    return parse_route(template).match(path)


# -- literals and plain parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["products/list", "PRODUCTS/List"])
def test_literals_match_case_insensitively(path):
    assert match("Products/list", path) == {}


@pytest.mark.parametrize("template", ["/products/list/", "~/products/list", "products/list"])
def test_leading_and_trailing_slashes_and_tilde_are_ignored(template):
    assert match(template, "products/list") == {}


@pytest.mark.parametrize("path", ["products", "products/list/more", "product/list", "products/lis"])
def test_literals_need_every_segment_and_no_more(path):
    assert match("products/list", path) is None


def test_empty_template_matches_only_the_root():
    assert match("", "") == {}
    assert match("/", "") == {}
    assert match("", "a") is None


def test_escaped_braces_are_literal_braces():
    assert match("a/{{x}}/{y}", "a/{x}/1") == {"y": "1"}
    assert match("a/{{x}}/{y}", "a/x/1") is None


def test_parameters_capture_whole_segments():
    assert match("products/{category}/{id}", "products/books/7") == {"category": "books", "id": "7"}
    assert match("{x}", "Hello World") == {"x": "Hello World"}


def test_values_are_returned_as_they_appear_in_the_path():
    assert match("n/{x:int}/{y:bool}", "n/+007/TRUE") == {"x": "+007", "y": "TRUE"}


@pytest.mark.parametrize("path", ["a//b", "a/"])
def test_an_empty_path_segment_does_not_fill_a_required_parameter(path):
    assert match("a/{x}/b", path) is None
    assert match("a/{x}", path) is None


def test_parameters_lists_names_in_order():
    assert parse_route("a/{x}/{file}.{ext}/{y:int?}").parameters == ("x", "file", "ext", "y")
    assert parse_route("static").parameters == ()


def test_route_template_parses_itself_and_compares_by_text():
    assert RouteTemplate("a/{x}") == parse_route("a/{x}")
    assert RouteTemplate("a/{x}").match("a/1") == {"x": "1"}
    with pytest.raises(RouteTemplateError):
        RouteTemplate("a/{x")


# -- optional parameters, defaults, catch-alls ----------------------------------------------------------------------


def test_optional_parameters_are_left_out_when_absent():
    assert match("items/{id?}", "items") == {}
    assert match("items/{id?}", "items/3") == {"id": "3"}
    assert match("items/{id?}", "items/3/4") is None


def test_several_trailing_optional_parameters():
    template = parse_route("{controller=Home}/{action=Index}/{id?}")
    assert template.match("") == {"controller": "Home", "action": "Index"}
    assert template.match("shop") == {"controller": "shop", "action": "Index"}
    assert template.match("shop/buy/3") == {"controller": "shop", "action": "buy", "id": "3"}


def test_defaults_fill_absent_values():
    assert match("page/{n=1}", "page") == {"n": "1"}
    assert match("page/{n=1}", "page/4") == {"n": "4"}
    assert match("page/{n:int=1}", "page") == {"n": "1"}


def test_a_default_must_pass_the_constraints():
    assert match("page/{n:min(5)=1}", "page") is None


def test_an_optional_parameter_skips_its_constraints_only_when_absent():
    assert match("p/{id:int?}", "p") == {}
    assert match("p/{id:int?}", "p/5") == {"id": "5"}
    assert match("p/{id:int?}", "p/x") is None


@pytest.mark.parametrize("template", ["files/{*path}", "files/{**path}"])
def test_catch_all_takes_the_rest_including_slashes(template):
    assert match(template, "files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert match(template, "files/a") == {"path": "a"}


def test_catch_all_with_nothing_left_is_left_out():
    assert match("files/{*path}", "files") == {}
    assert match("{*path}", "") == {}


def test_catch_all_default_and_constraints():
    assert match("files/{*path=index.html}", "files") == {"path": "index.html"}
    assert match("n/{*rest:int}", "n/12") == {"rest": "12"}
    assert match("n/{*rest:int}", "n/1/2") is None
    # As in ASP.NET, a constraint rejects a missing value unless the parameter is marked '?'.
    assert match("n/{*rest:int}", "n") is None


# -- constraints ----------------------------------------------------------------------------------------------------

GUID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        ("int", ["7", "-3", "+4", "2147483647", "-2147483648"], ["1.5", "99999999999", "2147483648", "x", "1_0"]),
        ("long", ["99999999999", "-9223372036854775808"], ["9223372036854775808", "1e3", "1.0", "abc"]),
        ("bool", ["true", "FALSE", "True"], ["yes", "1", "truth"]),
        ("double", ["1.5", "-2", ".5", "1e10", "1,000.25"], ["nan", "NaN", "inf", "Infinity", "x", "1_0", "1.2.3"]),
        ("float", ["1.5", "3"], ["-inf", "one"]),
        ("decimal", ["1.25", "-3", "5-"], ["one", "1e3", "nan", "-5-", "79228162514264337593543950336"]),
        ("guid", [GUID, GUID.upper(), GUID.replace("-", ""), f"{{{GUID}}}", f"({GUID})"], ["6f9619ff", "zzzz"]),
        ("guid", [GUID], [GUID[:9] + "-" + GUID[9:], f"{{{GUID}", f"urn:uuid:{GUID}", GUID.replace("f", "g")]),
        ("datetime", ["2024-05-01", "2024-05-01T10:00:00", "2024-05-01T10:00:00Z", "2024-05-01T10:00+02:00"], []),
        ("datetime", [], ["yesterday", "2024-13-01", "10:00"]),
        ("alpha", ["abcXYZ", "a"], ["abc1", "é", "a-b"]),
        ("required", ["x"], []),
        ("minlength(3)", ["abc", "abcd"], ["ab"]),
        ("maxlength(2)", ["a", "ab"], ["abc"]),
        ("length(2)", ["ab"], ["a", "abc"]),
        ("length(1,3)", ["a", "abc"], ["abcd"]),
        ("min(10)", ["10", "11"], ["9", "x", "10.5"]),
        ("max(10)", ["10", "-5"], ["11", "x"]),
        ("range(1,3)", ["1", "2", "3"], ["0", "4", "x"]),
        ("file", ["a.txt", "a.b.c", ".env"], ["a", "a.", "a.."]),
        ("nonfile", ["a", "a."], ["a.txt"]),
        (r"regex(^\d{{3}}$)", ["123"], ["12", "1234", "abc"]),
        (r"regex(^\d{{3,}}$)", ["123", "12345"], ["12"]),
        ("regex(^(a|b),c:d$)", ["a,c:d", "B,C:D"], ["x", "a,c"]),
        ("regex(^(?<year>[0-9]{{4}})$)", ["2024"], ["24"]),
    ],
)
def test_constraints_accept_and_reject(constraint, good, bad):
    template = parse_route(f"v/{{x:{constraint}}}")
    for value in good:
        assert template.match(f"v/{value}") == {"x": value}, value
    for value in bad:
        assert template.match(f"v/{value}") is None, value


def test_constraint_names_are_case_insensitive():
    assert match("v/{x:INT}", "v/5") == {"x": "5"}
    assert match("v/{x:Range(1,3)}", "v/4") is None


def test_regex_is_case_insensitive_and_unanchored_like_aspnet_core():
    assert match("v/{x:regex(^abc$)}", "v/ABC") == {"x": "ABC"}
    # ASP.NET Core's RegexRouteConstraint calls IsMatch without adding ^...$: write the anchors yourself.
    assert match("v/{x:regex(abc)}", "v/xxabcxx") == {"x": "xxabcxx"}
    assert match("v/{x:regex(abc)}", "v/xxabxx") is None


def test_chained_constraints_all_apply():
    template = parse_route("n/{x:int:min(5):max(9)}")
    assert template.match("n/5") == {"x": "5"}
    assert template.match("n/4") is None
    assert template.match("n/10") is None
    assert template.match("n/a") is None


def test_empty_constraint_slots_are_ignored():
    assert match("n/{x::int:}", "n/5") == {"x": "5"}


# -- complex segments -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("f/{file}.{ext}", "f/a.b.c", {"file": "a.b", "ext": "c"}),
        ("f/{file}.{ext}", "f/report.PDF", {"file": "report", "ext": "PDF"}),
        ("{a}-{b}-{c}", "1-2-3-4", {"a": "1-2", "b": "3", "c": "4"}),
        ("api/v{version:int}", "api/v2", {"version": "2"}),
        ("api/V{version}", "api/v2", {"version": "2"}),
        ("{name}.json", "data.json", {"name": "data"}),
        ("img-{id:int}.png", "img-7.png", {"id": "7"}),
    ],
)
def test_complex_segments_split_like_aspnet(template, path, expected):
    assert match(template, path) == expected


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("f/{file}.{ext}", "f/abc"),
        ("f/{file}.{ext}", "f/.c"),
        ("f/{file}.{ext}", "f/a."),
        ("api/v{version:int}", "api/vx"),
        ("api/v{version:int}", "api/v"),
        ("{name}.json", "data.jsonx"),
        ("img-{id}", "xmg-1"),
    ],
)
def test_complex_segments_reject(template, path):
    assert match(template, path) is None


def test_complex_segment_with_optional_last_part_after_a_period():
    template = parse_route("f/{file}.{ext?}")
    assert template.match("f/a.b.c") == {"file": "a.b", "ext": "c"}
    assert template.match("f/readme") == {"file": "readme"}
    assert template.match("f/readme.") is None


# -- invalid templates ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("a/{x", "unclosed '{'"),
        ("a/x}", "'}' without a matching '{'"),
        ("{x:regex(^\\d{3}$)}", "must be written '{{'"),
        ("a/{x?}/b", "optional parameter 'x' is followed by the required segment 'b'"),
        ("{x?}/{y}", "optional parameter 'x'"),
        ("{x}/{X}", "'X' appears more than once"),
        ("{x:nope}", "unknown constraint 'nope'"),
        ("{x:int:Nope(1)}", "unknown constraint 'Nope'"),
        ("{a}{b}", "literal between them"),
        ("{*rest}/more", "catch-all parameter 'rest' must be the whole last segment"),
        ("a/x{*rest}", "catch-all"),
        ("{*rest?}", "cannot be optional"),
        ("{x=1?}", "cannot have a default value"),
        ("{a?}.{b}", "must end its segment"),
        ("{a}-{b?}", "can only follow '.'"),
        ("{x:min(a)}", "whole numbers"),
        ("{x:length(-1)}", "non-negative"),
        ("{x:range(1)}", "takes 2 argument(s)"),
        ("{x:range(5,1)}", "minimum above its maximum"),
        ("{x:int(3)}", "takes no arguments"),
        ("{x:regex(()}", "not a valid expression"),
        ("{x:regex()}", "needs an expression"),
        ("a//b", "empty segment"),
        ("a/b?", "cannot contain '?'"),
        ("~a", "'~'"),
        ("{}", "parameter name ''"),
        ("{a*b}", "parameter name 'a*b'"),
    ],
)
def test_invalid_templates_name_the_template_and_the_problem(template, problem):
    with pytest.raises(RouteTemplateError) as info:
        parse_route(template)
    message = str(info.value)
    assert message.startswith(f"Route {template!r} is invalid: ")
    assert problem in message
    assert info.value.template == template


def test_route_template_error_is_a_value_error():
    assert issubclass(RouteTemplateError, ValueError)
    assert str(RouteTemplateError("a/{x", "unclosed '{'")) == "Route 'a/{x' is invalid: unclosed '{'"


def test_optional_parameter_may_be_followed_by_optional_ones():
    assert match("{a?}/{b=2}/{*rest}", "") == {"b": "2"}


# -- ordering -------------------------------------------------------------------------------------------------------


def ordered(*templates: str) -> list[str]:
    return [t.template for t in sorted(map(parse_route, reversed(templates)), key=RouteTemplate.sort_key)]


def test_more_specific_routes_sort_first():
    expected = ["products/special", "products/{id:int}", "products/{name}", "products/{*rest}"]
    assert ordered(*expected) == expected


def test_segment_kinds_sort_literal_complex_constrained_plain_optional_catch_all():
    expected = [
        "p/list",
        "p/{file}.{ext}",
        "p/{id:int:min(1)}",
        "p/{id:int}",
        "p/{id:int?}",
        "p/{name}",
        "p/{name=x}",
        "p/{name?}",
        "p/{*rest:int}",
        "p/{*rest}",
    ]
    assert ordered(*expected) == expected


def test_earlier_segments_decide_before_later_ones():
    assert ordered("{a}/list", "list/{a}") == ["list/{a}", "{a}/list"]


def test_longer_templates_sort_before_their_prefixes():
    assert ordered("a/b/c", "a/b") == ["a/b/c", "a/b"]
    assert ordered("a/{x?}", "a") == ["a/{x?}", "a"]


def test_ties_break_by_template_text():
    assert ordered("b/{x}", "a/{x}") == ["a/{x}", "b/{x}"]
    assert parse_route("a/{x}").sort_key() == parse_route("a/{x}").sort_key()


# -- join_route -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "route", "expected"),
    [
        ("api", "hello/{name}", "api/hello/{name}"),
        ("api", "/hello/{name}/", "api/hello/{name}"),
        ("/api/", "hello", "api/hello"),
        ("", "hello", "hello"),
        ("", "/hello/", "hello"),
        ("api", "", "api"),
        ("", "", ""),
    ],
)
def test_join_route_puts_the_prefix_in_front(prefix, route, expected):
    assert join_route(prefix, route) == expected
