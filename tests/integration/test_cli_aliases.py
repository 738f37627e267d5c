"""Core Tools' `func durable get-*` names answer exactly what the dfx inspect views answer."""

from __future__ import annotations

import pytest

from tests.cli import invoke
from tests.integration.test_cli import seed

pytestmark = pytest.mark.azurite


@pytest.mark.parametrize(
    ("alias", "view"),
    [
        (["durable", "get-runtime-status", "--id", "alias-1"], ["inspect", "status", "alias-1"]),
        (["durable", "get-history", "--id", "alias-1"], ["inspect", "history", "alias-1"]),
        (["durable", "get-instances", "--top", "5"], ["inspect", "instances", "--top", "5"]),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_core_tools_names_print_what_the_inspect_views_print(account, hub_name, conn, alias, view):
    seed(account, hub_name, "alias-1")
    by_alias = invoke(*alias, *conn, "--json")
    by_view = invoke(*view, *conn, "--json")
    assert by_alias.exit_code == by_view.exit_code == 0, by_alias.output
    assert by_alias.output == by_view.output and "alias-1" in by_alias.output
