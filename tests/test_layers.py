"""The packages only look down, and no reader of a run folder imports its writer.

Layers, bottom to top: errors/paths/storage; config, data, models; rundir (the run
folder's contract); engine (the trainer and its loop); evaluation; export; sweep (which
starts runs and evaluations); view (what the window shows, without Qt); cli and ui.
Every import in the package (also the ones inside functions) is checked, so an arrow
back up fails here before it tangles the house; only ui imports Qt.
"""

import ast
from pathlib import Path

import gdd_studio

ROOT = Path(gdd_studio.__file__).parent
LAYERS = {
    "gdd_studio": 0, "errors": 0, "paths": 0, "storage": 0, "resources": 0,
    "config": 1, "data": 1, "models": 1,
    "rundir": 2,
    "engine": 3,
    "evaluation": 4,
    "export": 5,
    "sweep": 6,
    "view": 7,
    "cli": 8, "ui": 8,
    "__main__": 9,
}  # fmt: skip
WRITER = ("gdd_studio.engine.run", "gdd_studio.engine.trainer")
# The front ends that start a run (and a sweep, which starts its members) may import the
# writer; everything else only reads.
MAY_WRITE = (
    "gdd_studio.cli",
    "gdd_studio.ui.worker",
    "gdd_studio.ui.jobs",
    "gdd_studio.sweep.sweep",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


QT = ("PySide6", "pyqtgraph", "shiboken6")


def import_edges(roots: tuple[str, ...] = ("gdd_studio",)) -> list[tuple[str, str]]:
    """(importer, imported) for every import by a gdd_studio module of a module under
    ``roots`` (by default, of another gdd_studio module)."""
    edges = []
    for path in ROOT.rglob("*.py"):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # "from . import storage" imports a module too
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            else:
                continue
            edges += [(name, t) for t in targets if t.split(".")[0] in roots]
    return edges


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 and parts[1] in LAYERS else parts[0]]


def violations(edges: list[tuple[str, str]]) -> list[str]:
    out = []
    for importer, imported in edges:
        if _layer(imported) > _layer(importer):
            out.append(f"{importer} imports {imported}, a higher layer")
        if imported.startswith(WRITER) and not importer.startswith(WRITER + MAY_WRITE):
            out.append(f"{importer} reads run folders but imports the writer {imported}")
    return sorted(set(out))


def test_the_checker_sees_arrows_up_and_readers_importing_the_writer():
    assert violations([("gdd_studio.rundir.records", "gdd_studio.engine.run")])
    assert violations([("gdd_studio.config", "gdd_studio.storage")]) == []
    assert violations([("gdd_studio.config", "gdd_studio.engine.storage")])
    assert violations([("gdd_studio.ui.main_window", "gdd_studio.engine.trainer")])
    assert violations([("gdd_studio.evaluation.protocol", "gdd_studio.engine.events")]) == []
    assert violations([("gdd_studio.view.runs", "gdd_studio.ui.runs_panel")])
    assert violations([("gdd_studio.view.training", "gdd_studio.engine.run")])
    assert violations([("gdd_studio.ui.training_view", "gdd_studio.view.training")]) == []
    edges = import_edges()
    assert ("gdd_studio.engine.run", "gdd_studio.rundir.folder") in edges
    assert len(edges) > 100


def test_no_package_imports_a_higher_one_and_no_reader_imports_the_writer():
    assert violations(import_edges()) == []


def test_only_the_ui_imports_qt():
    edges = import_edges(QT)
    assert ("gdd_studio.ui.main_window", "PySide6.QtWidgets") in edges  # the checker sees them
    assert [e for e in edges if not e[0].startswith("gdd_studio.ui")] == []


def module_cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """Groups of modules (files, not packages) that import each other round a circle, any
    import counted (also inside functions and under TYPE_CHECKING): each one a tangle to
    read through (issue 30 found four two-file circles)."""
    modules = {_module_name(p) for p in ROOT.rglob("*.py") if p.name != "__init__.py"}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for a, b in edges:
        if a in modules and b in modules and a != b:
            graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_the_cycle_finder_sees_a_circle():
    a, b = "gdd_studio.cli.parser", "gdd_studio.cli.sweeps"
    assert module_cycles([(a, b), (b, a)]) == [[a, b]]
    assert module_cycles([(a, b)]) == []


def test_no_two_modules_import_each_other():
    assert module_cycles(import_edges()) == []
