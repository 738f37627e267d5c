"""Route templates match as ASP.NET Core's do in the Functions host."""

from __future__ import annotations

import pytest

from dfx.emulator.http.routes import RouteTemplateError, join_route, parse_route


def match(template: str, path: str):
    return parse_route(template).match(path)


def test_literals_match_case_insensitively_and_ignore_slashes():
    assert match("/Products/List/", "products/list") == {}
    assert match("products/list", "products") is None
    assert match("products", "products/list") is None


def test_parameters_capture_segments():
    assert match("products/{category}/{id}", "products/books/7") == {"category": "books", "id": "7"}
    assert match("products/{id}", "products/") is None


def test_optional_parameters_are_left_out_when_absent():
    assert match("items/{id?}", "items") == {}
    assert match("items/{id?}", "items/3") == {"id": "3"}


def test_defaults_fill_absent_values():
    assert match("page/{n=1}", "page") == {"n": "1"}
    assert match("page/{n=1}", "page/4") == {"n": "4"}


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        ("int", ["7", "-3", "2147483647"], ["1.5", "99999999999", "x"]),
        ("long", ["99999999999"], ["1e3", "abc"]),
        ("bool", ["true", "FALSE"], ["yes", "1"]),
        ("double", ["1.5", "-2"], ["nan", "inf", "x"]),
        ("decimal", ["1.25"], ["one"]),
        (
            "guid",
            [
                "6f9619ff-8b86-d011-b42d-00c04fc964ff",
                "6f9619ff8b86d011b42d00c04fc964ff",
                "{6f9619ff-8b86-d011-b42d-00c04fc964ff}",
            ],
            ["6f9619ff", "zzzz"],
        ),
        ("datetime", ["2024-05-01", "2024-05-01T10:00:00Z"], ["yesterday"]),
        ("alpha", ["abcXYZ"], ["abc1", "é"]),
        ("minlength(3)", ["abc"], ["ab"]),
        ("maxlength(2)", ["ab"], ["abc"]),
        ("length(2)", ["ab"], ["a", "abc"]),
        ("length(1,3)", ["a", "abc"], ["abcd"]),
        ("min(10)", ["10", "11"], ["9", "x"]),
        ("max(10)", ["10", "-5"], ["11"]),
        ("range(1,3)", ["1", "3"], ["0", "4"]),
        (r"regex(^\d{{3}}$)", ["123"], ["12", "1234"]),
        ("regex(^(a|b),c:d$)", ["a,c:d"], ["x"]),
    ],
)
def test_constraints_accept_and_reject(constraint, good, bad):
    template = parse_route(f"v/{{x:{constraint}}}")
    for value in good:
        assert template.match(f"v/{value}") == {"x": value}, value
    for value in bad:
        assert template.match(f"v/{value}") is None, value


def test_chained_constraints_all_apply():
    template = parse_route("n/{x:int:min(5)}")
    assert template.match("n/5") == {"x": "5"} and template.match("n/4") is None and template.match("n/a") is None


def test_optional_constrained_parameter():
    assert match("p/{id:int?}", "p") == {}
    assert match("p/{id:int?}", "p/x") is None


def test_catch_all_takes_the_rest_including_slashes():
    assert match("files/{*path}", "files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert match("files/{**path}", "files") == {}


def test_complex_segments_split_like_aspnet():
    assert match("f/{file}.{ext}", "f/a.b.c") == {"file": "a.b", "ext": "c"}
    assert match("api/v{version:int}", "api/v2") == {"version": "2"}
    assert match("api/v{version:int}", "api/vx") is None


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("a/{x", "unclosed"),
        ("a/{x?}/b", "optional"),
        ("{x}/{X}", "twice"),
        ("{x:nope}", "unknown constraint 'nope'"),
        ("{a}{b}", "literal between"),
        ("{*rest}/more", "catch-all"),
        ("{x:min(a)}", "whole-number"),
        ("a//b", "empty segment"),
    ],
)
def test_invalid_templates_name_the_template_and_the_problem(template, problem):
    with pytest.raises(RouteTemplateError) as info:
        parse_route(template)
    assert repr(template) in str(info.value) and problem in str(info.value)


def test_more_specific_routes_sort_first():
    templates = ["products/{*rest}", "products/{name}", "products/{id:int}", "products/special"]
    ordered = sorted(map(parse_route, templates), key=lambda t: t.sort_key())
    assert [t.template for t in ordered] == ["products/special", "products/{id:int}", "products/{name}",
                                             "products/{*rest}"]  # fmt: skip


def test_parameters_lists_names_in_order():
    assert parse_route("a/{x}/{y:int?}").parameters == ("x", "y")


def test_join_route_puts_the_prefix_in_front():
    assert join_route("api", "/hello/{name}") == "api/hello/{name}"
    assert join_route("", "hello") == "hello"
    assert join_route("/api/", "") == "api"
