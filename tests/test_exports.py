"""Every public module of profiles, bot.sources, bot.fetch and bot.evaluation declares exactly its
public surface in __all__."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import bot.sources
import profiles


def _modules(package: ModuleType) -> list[str]:
    return [package.__name__] + [
        f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
    ]


MODULES = [*_modules(profiles), *_modules(bot.sources), "bot.fetch", "bot.evaluation"]


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
