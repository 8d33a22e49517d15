"""No import cycles among the package's modules, function-local imports included: a cycle is a
missing module (shared errors go to ``errors.py``, shared facts one layer down)."""

from __future__ import annotations

from tests.architecture.imports import import_graph


def strongly_connected_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module (or a self-import) are cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1 or node in graph.get(node, ()):
                    out.append(sorted(comp))
    return out


def test_cycle_finder_on_hand_graphs():
    assert strongly_connected_components({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert strongly_connected_components({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected_components({"a": {"a"}}) == [["a"]]
    two = strongly_connected_components({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}})
    assert sorted(two) == [["a", "b"], ["c", "d"]]


def test_package_has_no_import_cycles():
    assert strongly_connected_components(import_graph()) == []
