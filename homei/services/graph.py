"""Dependencies between services: checked when declared, followed when starting and stopping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from homei.core.errors import Conflict, ValidationError


class DependencyError(ValidationError):
    """A missing dependency or a cycle (seed 000's DEPENDENCY_ERROR, 400)."""

    code = "DEPENDENCY_ERROR"


class HasDependents(Conflict):
    """Removing a service others need (409 unless forced)."""

    code = "DEPENDENCY_ERROR"


Graph = Mapping[str, Iterable[str]]


def validate(graph: Graph) -> None:
    """Every dependency declared, and no cycle; `DependencyError` naming them otherwise."""
    missing = sorted(
        {f"{name} -> {dep}" for name, deps in graph.items() for dep in deps if dep not in graph}
    )
    if missing:
        raise DependencyError(f"Missing dependencies: {', '.join(missing)}", {"missing": missing})
    cycle = find_cycle(graph)
    if cycle:
        raise DependencyError(f"Dependency cycle: {' -> '.join(cycle)}", {"cycle": cycle})


def find_cycle(graph: Graph) -> list[str]:
    """One cycle as a path that returns to its start (`[a, b, a]`), or `[]`."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for dep in sorted(graph.get(name, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep in graph and dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return []

    for name in sorted(graph):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


def start_order(graph: Graph, names: Iterable[str]) -> list[str]:
    """`names` and everything they need, dependencies first."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in sorted(graph.get(name, ())):
            visit(dep)
        order.append(name)

    for name in sorted(names):
        visit(name)
    return order


def dependents(graph: Graph, name: str) -> list[str]:
    """Services that need `name`, directly or not, the furthest first (the order to stop)."""
    direct: dict[str, set[str]] = {}
    for service, deps in graph.items():
        for dep in deps:
            direct.setdefault(dep, set()).add(service)
    found: list[str] = []

    def visit(current: str) -> None:
        for user in sorted(direct.get(current, ())):
            if user not in found:
                visit(user)
                found.append(user)

    visit(name)
    # `visit` appends a user after its own users: the furthest come first.
    return found
