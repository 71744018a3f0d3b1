"""Every public module of profiles (and bot.evaluation) declares exactly its public surface."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import profiles

MODULES = ["profiles", "bot.evaluation"] + [
    f"profiles.{m.name}" for m in pkgutil.iter_modules(profiles.__path__)
]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_all_lists_every_public_function_and_class(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(getattr(module, "__all__", ()))
    assert exported, f"{name} has no __all__"
    assert all(hasattr(module, member) for member in exported)
    defined = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == name
    }
    assert defined <= exported


def test_profiles_does_not_reach_into_the_application() -> None:
    for info in pkgutil.iter_modules(profiles.__path__):
        source = inspect.getsource(importlib.import_module(f"profiles.{info.name}"))
        assert "import bot" not in source and "from bot" not in source
        assert "import storage" not in source and "from storage" not in source
