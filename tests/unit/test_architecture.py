"""The back-office's import rules, checked on the source with `ast` (nothing is imported):

- no import circle between the modules of `backoffice` (top-level and function-level imports alike);
- a function-level import of a project module (backoffice, bot, connectors, biometrics) in `backoffice` says why
  on its line (a comment): never to dodge a circle;
- no private name (`_x`) of a project module is used from another package, neither imported
  (`from backoffice.media.store import _path`) nor reached through a module (`wire._cdata_el(...)`).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("backoffice", "bot", "connectors")  # what is loaded; biometrics has no back-office imports
GRAPHED = "backoffice"  # the package whose import graph must be acyclic
PRIVATE_SCOPES = ("backoffice", "connectors", "bot/actions")  # sources held to the private-name rule
SKIP = ("backoffice/migrations/versions",)  # Alembic revisions are frozen history


@dataclass
class Import:
    target: str  # the module imported (a submodule when `from pkg import submodule`)
    names: list[str]  # the names taken from it (`from X import a, b`), empty for `import X`
    alias: str | None  # the local name bound to the module itself, if any
    line: int
    end_line: int
    in_function: bool


@dataclass
class Module:
    name: str
    path: Path
    rel: str  # path from the checkout's root, for messages
    package: str
    imports: list[Import] = field(default_factory=list)
    commented_lines: set[int] = field(default_factory=set)
    tree: ast.AST | None = None
    source: str = ""


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(root: Path, top: str):
    for path in sorted((root / top).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if not rel.startswith(SKIP) and "__pycache__" not in rel:
            yield path


def _comment_lines(source: str) -> set[int]:
    """Lines with a `#`: enough for import lines, which hold no string that could contain one (tokenize would
    be exact, and ten times slower)."""
    return {n for n, line in enumerate(source.splitlines(), 1) if "#" in line}


class _Collector:
    """Imports are statements: walking statement bodies finds them all without visiting every expression."""

    def __init__(self, module: Module, known: set[str]):
        self.module, self.known = module, known

    def walk(self, statements, in_function: bool) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                for item in node.names:
                    self._add(item.name, [], item.asname, node, in_function)
            elif isinstance(node, ast.ImportFrom):
                self._from(node, in_function)
            inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for name in ("body", "orelse", "finalbody"):
                block = getattr(node, name, None)
                if isinstance(block, list):
                    self.walk(block, inner)
            for handler in getattr(node, "handlers", ()):
                self.walk(handler.body, inner)
            for case in getattr(node, "cases", ()):
                self.walk(case.body, inner)

    def dynamic(self, tree: ast.AST) -> None:
        """`__import__("backoffice.x")` / `importlib.import_module(...)`: imports too (at any depth)."""
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        inside = {id(c) for f in functions for c in ast.walk(f) if c is not f}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if ((isinstance(func, ast.Name) and func.id == "__import__")
                    or (isinstance(func, ast.Attribute) and func.attr == "import_module")) and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                self._add(node.args[0].value, [], None, node, id(node) in inside)

    def _add(self, target: str, names, alias, node, in_function: bool):
        self.module.imports.append(Import(target, list(names), alias, node.lineno, node.end_lineno or node.lineno,
                                          in_function))

    def _from(self, node: ast.ImportFrom, in_function: bool):
        base = node.module or ""
        if node.level:  # relative import: resolve against this module's package
            anchor = self.module.name.split(".")
            keep = len(anchor) - node.level + (1 if self.module.path.name == "__init__.py" else 0)
            base = ".".join(anchor[:keep] + ([base] if base else []))
        for item in node.names:
            sub = f"{base}.{item.name}"
            if sub in self.known:  # `from pkg import module`: the module itself
                self._add(sub, [], item.asname or item.name, node, in_function)
            else:
                self._add(base, [item.name], None, node, in_function)


def load(root: Path = ROOT, tops=PROJECT) -> dict[str, Module]:
    paths = [p for top in tops if (root / top).is_dir() for p in _sources(root, top)]
    known = {module_name(p, root) for p in paths}
    modules = {}
    for path in paths:
        name = module_name(path, root)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        source = path.read_text(encoding="utf-8")
        mod = Module(name, path, path.relative_to(root).as_posix(), package or name,
                     commented_lines=_comment_lines(source), tree=ast.parse(source))
        collector = _Collector(mod, known)
        collector.walk(mod.tree.body, False)
        if "__import__(" in source or "import_module(" in source:
            collector.dynamic(mod.tree)
        mod.source = source
        modules[name] = mod
    return modules


def _resolve(target: str, known) -> str | None:
    """The project module an import names (its nearest known ancestor for `from module import name`)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def import_graph(modules: dict[str, Module], top: str = GRAPHED) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules if name.split(".")[0] == top}
    for name in graph:
        for imp in modules[name].imports:
            target = _resolve(imp.target, modules)
            if target and target != name and target.split(".")[0] == top:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a list of module names."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _path_in(component: list[str], graph) -> list[str]:
    """One circle through the component, for the failure message."""
    members, start = set(component), component[0]
    trail, seen = [start], {start}
    while True:
        nxt = next((w for w in sorted(graph[trail[-1]]) if w in members), None)
        if nxt is None:
            return trail
        if nxt in seen:
            return trail[trail.index(nxt):] + [nxt]
        trail.append(nxt)
        seen.add(nxt)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _in_scope(mod: Module) -> bool:
    return mod.rel.startswith(PRIVATE_SCOPES)


def private_crossings(modules: dict[str, Module]) -> list[str]:
    problems = []
    for mod in modules.values():
        if not _in_scope(mod):
            continue
        aliases = {}  # local name → project module, for `alias._private` attribute access
        for imp in mod.imports:
            target = _resolve(imp.target, modules)
            if target is None:
                continue
            owner = modules[target].package
            if imp.alias:
                aliases[imp.alias] = (target, owner)
            elif not imp.names and "." not in imp.target:
                aliases[imp.target] = (target, owner)
            for name in imp.names:
                if _private(name) and owner != mod.package:
                    problems.append(f"{mod.rel}:{imp.line} imports {target}.{name}")
        if not any(f"{alias}._" in mod.source for alias in aliases):
            continue  # no `alias._name` in the text: nothing to walk
        for node in ast.walk(mod.tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and aliases[node.value.id][1] != mod.package):
                problems.append(f"{mod.rel}:{node.lineno} uses "
                                f"{aliases[node.value.id][0]}.{node.attr}")
    return problems


def unexplained_function_imports(modules: dict[str, Module]) -> list[str]:
    problems = []
    for mod in modules.values():
        if mod.name.split(".")[0] != GRAPHED:
            continue
        for imp in mod.imports:
            if not imp.in_function or imp.target.split(".")[0] not in PROJECT + ("biometrics",):
                continue
            if not any(line in mod.commented_lines for line in range(imp.line, imp.end_line + 1)):
                problems.append(f"{mod.rel}:{imp.line} imports {imp.target} inside a function "
                                "without a comment saying why")
    return list(dict.fromkeys(problems))  # `from X import a, b` is one statement


# --- the rules ---------------------------------------------------------------------------------------

MODULES = load()


def test_the_backoffice_has_no_import_circle():
    graph = import_graph(MODULES)
    found = cycles(graph)
    assert not found, "import circles in backoffice:\n" + "\n".join(
        " → ".join(_path_in(c, graph)) + f"   ({len(c)} modules: {', '.join(c)})" for c in found)


def test_function_level_project_imports_say_why():
    problems = unexplained_function_imports(MODULES)
    assert not problems, "\n".join(problems)


def test_no_private_name_crosses_a_package():
    problems = private_crossings(MODULES)
    assert not problems, "\n".join(problems)


# --- the checker itself, on made-up sources -------------------------------------------------------------

def _fake(tmp_path, files: dict[str, str]) -> dict[str, Module]:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return load(tmp_path, ("backoffice", "connectors"))


def test_checker_finds_a_circle_closed_inside_a_function(tmp_path):
    mods = _fake(tmp_path, {
        "backoffice/__init__.py": "",
        "backoffice/a.py": "from backoffice.b import thing\n",
        "backoffice/b.py": "def f():\n    from backoffice import a\n    return a\nthing = 1\n",
        "backoffice/c.py": "import backoffice.a\n",
    })
    graph = import_graph(mods)
    assert cycles(graph) == [["backoffice.a", "backoffice.b"]]
    assert _path_in(["backoffice.a", "backoffice.b"], graph) == ["backoffice.a", "backoffice.b", "backoffice.a"]
    assert len(unexplained_function_imports(mods)) == 1  # the one in b.f has no comment


def test_checker_accepts_an_explained_function_import_and_sees_dynamic_ones(tmp_path):
    mods = _fake(tmp_path, {
        "backoffice/__init__.py": "",
        "backoffice/a.py": "def f():\n    from backoffice import b  # heavy: only the worker needs it\n",
        "backoffice/b.py": "def g():\n    return __import__('backoffice.a')\n",
    })
    assert unexplained_function_imports(mods) == ["backoffice/b.py:2 imports backoffice.a inside a function "
                                                  "without a comment saying why"]
    assert cycles(import_graph(mods)) == [["backoffice.a", "backoffice.b"]]


def test_checker_finds_private_names_across_packages(tmp_path):
    mods = _fake(tmp_path, {
        "backoffice/__init__.py": "",
        "backoffice/media/__init__.py": "",
        "backoffice/media/store.py": "def _path():\n    pass\n",
        "backoffice/media/routes.py": "from backoffice.media.store import _path\n",  # same package: fine
        "backoffice/agreements/__init__.py": "",
        "backoffice/agreements/service.py": "from backoffice.media.store import _path\n",
        "connectors/__init__.py": "",
        "connectors/wire.py": "def _el():\n    pass\n",
        "connectors/bridge.py": "from connectors import wire\nwire._el()\n",  # same package: fine
        "connectors/sub/__init__.py": "",
        "connectors/sub/other.py": "from connectors import wire as w\nw._el()\nw.__name__\n",
    })
    assert private_crossings(mods) == [
        "backoffice/agreements/service.py:1 imports backoffice.media.store._path",
        "connectors/sub/other.py:2 uses connectors.wire._el",
    ]
