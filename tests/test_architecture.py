"""Imports go one way: recipe -> config -> data -> backend + strategy -> trainer -> voice.

A cycle hidden by an import inside a function still ties the modules together (neither can be
read, tested or replaced alone), so every import counts here, wherever it stands. Importing
`a.b.c` also runs package `a.b`'s __init__, so that edge counts too (the root package's lazy
`load_voice` attribute is an import only when asked for, and is left out; so is a package's own
__init__ for the modules inside it, which it is already running).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "hf_vclone"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target not in files or target == name:
                    continue
                graph[name].add(target)
                parts = target.split(".")
                for depth in range(2, len(parts)):  # the packages it runs on the way, below the root
                    parent = ".".join(parts[:depth])
                    # (a module inside that package already runs within its __init__)
                    if parent in files and not f"{name}.".startswith(f"{parent}."):
                        graph[name].add(parent)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import_and_a_package_init() -> None:
    graph = {"p.config": {"p.models"}, "p.models": {"p.models.x"}, "p.models.x": {"p.config"}, "p.data": {"p.config"}}
    assert cycles(graph) == [["p.config", "p.models", "p.models.x"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package() -> None:
    graph = import_graph()
    assert "hf_vclone.config" in graph and graph["hf_vclone.backends"]  # the graph was really read
    assert cycles(graph) == []


def test_the_recipe_check_loads_no_backend() -> None:
    """config validates a recipe with the backends' light sections, never the backends themselves."""
    graph, reached, todo = import_graph(), set(), ["hf_vclone.config"]
    while todo:
        for nxt in graph[todo.pop()] - reached:
            reached.add(nxt)
            todo.append(nxt)
    assert "hf_vclone.models.speecht5_section" in reached
    assert not reached & {"hf_vclone.backends", "hf_vclone.models.speecht5", "hf_vclone.models.vits", "hf_vclone.trainer"}
