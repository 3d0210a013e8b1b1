"""The modules of sklearn_elm import each other without cycles (imports inside functions too)."""

import ast
import pathlib

import sklearn_elm

PACKAGE_DIR = pathlib.Path(sklearn_elm.__file__).parent


def module_name(path):
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """Module name -> the package modules it imports, anywhere in its source.

    ``from package import name`` is an edge to the submodule ``package.name`` when there is
    one, else to ``package`` itself (whose ``__init__`` defines ``name``).
    """
    files = {module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}

    def owner(dotted):
        # the longest prefix that is a module of the package
        while dotted and dotted not in files:
            dotted = dotted.rpartition(".")[0]
        return dotted

    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(owner(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join([*base, node.module] if node.module else base)
                else:
                    module = node.module
                for alias in node.names:
                    submodule = f"{module}.{alias.name}"
                    targets.add(submodule if submodule in files else owner(module))
        graph[name] = targets - {"", name}
    # the facade imports its public names and submodules on first use (its __getattr__), not
    # in import statements: its edges are the submodules it exports
    graph["sklearn_elm"] |= {
        f"sklearn_elm.{submodule}"
        for submodule in [*sklearn_elm._EXPORTS, *sklearn_elm._PUBLIC_SUBMODULES]
    }
    return graph


def find_cycle(graph):
    """One cycle of ``graph`` as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_finder_reports_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_package_has_no_import_cycle():
    graph = import_graph()
    assert "sklearn_elm._builder" in graph["sklearn_elm.classifier"]
    # the facade sklearn_elm/__init__.py imports everything (lazily); a module importing it
    # back (``from . import x`` of a name it exports) would be a cycle
    assert {"sklearn_elm.classifier", "sklearn_elm.benchmark"} <= graph["sklearn_elm"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_archive_encoding_imports_nothing_from_the_package():
    assert import_graph()["sklearn_elm._archive"] == set()


def test_persistence_depends_on_classifier_one_way():
    graph = import_graph()
    assert "sklearn_elm.classifier" in graph["sklearn_elm.persistence"]
    assert "sklearn_elm.persistence" not in graph["sklearn_elm.classifier"]
