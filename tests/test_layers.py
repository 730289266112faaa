"""The package's layers: the tutorial's core imports nothing from the machinery, and no import goes in a circle.

The core is every module at the package's top level but the command line (``cli/``, ``__main__``);
``training/`` may import the core; ``bench/`` the core and ``training/``; the command line everything.  Imports
inside functions count too.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cartpole_dqn"
COMMAND_LINE = ("cartpole_dqn.cli", "cartpole_dqn.__main__")
# What each layer must not import, by the prefix of the imported module's name.
FORBIDDEN = {
    "core": ("cartpole_dqn.training", "cartpole_dqn.bench", *COMMAND_LINE),
    "training": ("cartpole_dqn.bench", *COMMAND_LINE),
    "bench": COMMAND_LINE,
    "command line": (),
}


def module_name(path: Path, root: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package at ``root`` -> the package's modules it imports (the names it spells out)."""
    modules = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from package import module`` imports the module; ``from module import name`` the module.
                imported |= {
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                }
        graph[name] = {module for module in imported if module in modules and module != name}
    return graph


def layer_of(module: str) -> str:
    if module.startswith(COMMAND_LINE):
        return "command line"
    for layer in ("training", "bench"):
        if module.startswith(f"cartpole_dqn.{layer}"):
            return layer
    return "core"


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} ({layer_of(module)}) imports {imported}"
        for module, imports in graph.items()
        for imported in imports
        if imported.startswith(FORBIDDEN[layer_of(module)])
    )


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of imports as the modules along it, or [] when there is none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        for imported in sorted(graph[module]):
            if cycle := visit(imported, [*path, module]):
                return cycle
        done.add(module)
        return []

    for module in sorted(graph):
        if cycle := visit(module, []):
            return cycle
    return []


def test_the_core_imports_no_machinery_and_training_no_benchmark():
    graph = import_graph(PACKAGE)
    assert {"cartpole_dqn.agent", "cartpole_dqn.training.run", "cartpole_dqn.bench.learning"} <= graph.keys()
    assert layer_violations(graph) == []


def test_no_import_goes_in_a_circle():
    assert import_cycle(import_graph(PACKAGE)) == []


@pytest.fixture
def toy_package(tmp_path):
    """A package laid out like ours, whose modules import nothing yet: ``write`` adds a line to one."""
    root = tmp_path / "cartpole_dqn"
    for module in ("__init__", "agent", "cli", "training/__init__", "training/run", "bench/__init__", "bench/speed"):
        (root / f"{module}.py").parent.mkdir(parents=True, exist_ok=True)
        (root / f"{module}.py").write_text("")

    def write(module: str, line: str) -> dict[str, set[str]]:
        (root / f"{module}.py").write_text(f"def later():\n    {line}\n")
        return import_graph(root)

    return write


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("agent", "from cartpole_dqn.training import run"),
        ("agent", "import cartpole_dqn.bench.speed"),
        ("training/run", "from cartpole_dqn.bench.speed import time_it"),
        ("training/run", "from cartpole_dqn import cli"),
    ],
)
def test_the_rule_catches_an_import_against_the_layers(toy_package, module, line):
    assert len(layer_violations(toy_package(module, line))) == 1


def test_the_rule_catches_a_cycle(toy_package):
    toy_package("bench/speed", "from cartpole_dqn.training.run import train")
    graph = toy_package("training/run", "import cartpole_dqn.training")
    assert import_cycle(graph) == []  # a module importing its own package is no cycle of ours
    graph = toy_package("agent", "from cartpole_dqn import cli")
    graph = toy_package("cli", "from cartpole_dqn.agent import DQNAgent")
    assert import_cycle(graph) in (
        ["cartpole_dqn.agent", "cartpole_dqn.cli", "cartpole_dqn.agent"],
        ["cartpole_dqn.cli", "cartpole_dqn.agent", "cartpole_dqn.cli"],
    )
