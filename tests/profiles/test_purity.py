"""profiles is pure: it never imports the application (bot) or the database layer (storage)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import profiles


def test_profiles_does_not_reach_into_the_application() -> None:
    for info in pkgutil.iter_modules(profiles.__path__):
        source = inspect.getsource(importlib.import_module(f"profiles.{info.name}"))
        assert "import bot" not in source and "from bot" not in source
        assert "import storage" not in source and "from storage" not in source
