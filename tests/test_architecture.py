"""The layout keeps its promises: no import cycle, a README map that names every module, and the
database engine used only where the dependency rule says (the rest of the rule is `lint-imports`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grimp
import pytest

from tests.conftest import REPO

PACKAGES = ("bot", "profiles", "storage")
# Stage modules that may use Paperbot.engine; every other module goes through the service's methods.
ENGINE_USERS = {
    "bot/service.py",
    "bot/reports.py",
    "bot/digests/run.py",
    "bot/digests/tick.py",
    "bot/schedule/housekeeping.py",
    "bot/schedule/scheduler.py",  # the leader lock lives in the database
}


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. every import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_between_project_modules() -> None:
    """Function-level and TYPE_CHECKING imports count too: a cycle is a cycle wherever it hides."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: two modules importing each other inside functions are caught."""
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from cyclic import b\n")
    (package / "b.py").write_text("def g():\n    import cyclic.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic", cache_dir=None)
    assert cycles(graph) == [["cyclic.a", "cyclic.b"]]


def project_modules() -> dict[str, list[str]]:
    """Package folder ("bot/ingest/") -> its module files, for every package of the three."""
    found: dict[str, list[str]] = {}
    for top in PACKAGES:
        for init in sorted((REPO / top).rglob("__init__.py")):
            folder = init.parent
            found[f"{folder.relative_to(REPO).as_posix()}/"] = sorted(
                p.name for p in folder.glob("*.py") if p.name != "__init__.py"
            )
    found["storage/migrations/"] = ["env.py"]  # Alembic's folder is not a package, but it is ours
    return found


def readme_map() -> dict[str, str]:
    """Folder -> everything the README's structure map says on its lines."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Project structure", 1)[1].split("```")[1]
    lines: dict[str, str] = {}
    for line in block.splitlines():
        folder, _, rest = line.partition(" ")
        lines[folder] = lines.get(folder, "") + " " + rest
    return lines


def named(module: str, text: str) -> bool:
    return re.search(rf"(?<![\w/]){re.escape(module)}(?!\w)", text) is not None


def test_the_readme_structure_map_names_every_package_and_module() -> None:
    described = readme_map()
    missing = [
        f"{folder}{module}"
        for folder, modules in project_modules().items()
        for module in ([""] if folder not in described else modules)
        if folder not in described or not named(module, described[folder])
    ]
    assert not missing, f"add these to the README's Project structure map: {missing}"


def uses_engine(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.Attribute) and node.attr == "engine" for node in ast.walk(tree))


def test_only_the_service_and_named_stage_modules_touch_the_database_engine() -> None:
    users = {path.relative_to(REPO).as_posix() for path in (REPO / "bot").rglob("*.py") if uses_engine(path)}
    assert users <= ENGINE_USERS, f"use a bot.service method instead of .engine in {users - ENGINE_USERS}"
