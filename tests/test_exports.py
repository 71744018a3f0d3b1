"""Every public module of profiles, bot.ingest.sources, bot.ingest.fetch and bot.evaluation declares
exactly its public surface in __all__."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import bot.ingest.sources
import profiles


def _modules(package: ModuleType) -> list[str]:
    """The package and every module below it (a sub-package such as profiles.eval is a folder)."""
    below = pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    return [package.__name__] + [m.name for m in below if not m.ispkg]


MODULES = [*_modules(profiles), *_modules(bot.ingest.sources), "bot.ingest.fetch", "bot.evaluation"]


def defined_here(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
    }


@pytest.mark.parametrize("name", sorted(MODULES))
def test_all_lists_every_public_function_and_class(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(getattr(module, "__all__", ()))
    assert exported, f"{name} has no __all__"
    assert all(hasattr(module, member) for member in exported)
    assert defined_here(module) <= exported
