"""The library's modules import each other one way only: no module reaches back up (no cycles)."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "token_exchange" / "python" / "token_exchange_enabler"


def imports_of(path) -> set[str]:
    """Library modules a module imports, at the top level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found - {"__init__"}


def graph() -> dict[str, set[str]]:
    return {path.stem: imports_of(path) for path in PACKAGE.glob("*.py") if path.stem != "__init__"}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_library_modules_import_each_other_in_a_circle():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"replay": {"reconcile"}, "reconcile": {"status"}, "status": {"replay"}}) == [
        "reconcile", "status", "replay", "reconcile"]


def test_the_decision_is_pure_and_the_entry_points_share_one_core():
    edges = graph()
    assert edges["decision"] <= {"config", "errors"}  # no HTTP, no AWS
    for entry_point in ("worker", "reconcile", "enable_by_id"):
        assert "enabling" in edges[entry_point], entry_point
