"""The docs keep up with the code: every setting and every CLI command is documented."""

from __future__ import annotations

import re

import typer.main

from bot.cli import app
from bot.config import Settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
ENV_EXAMPLE = (REPO / "deploy" / ".env.example").read_text()


def setting_names() -> list[str]:
    return [
        "DATABASE_URL" if name == "database_url" else f"PAPERBOT_{name.upper()}"
        for name in Settings.model_fields
    ]


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [name for name in setting_names() if f"| `{name}` |" not in README]
    assert not missing, f"add these settings to the README configuration table: {missing}"


def test_every_setting_is_in_env_example() -> None:
    missing = [name for name in setting_names() if not re.search(rf"^#? ?{name}=", ENV_EXAMPLE, re.MULTILINE)]
    assert not missing, f"add these settings to deploy/.env.example: {missing}"


def command_paths() -> list[str]:
    group = typer.main.get_group(app)
    paths = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        paths += [f"{name} {child}" for child in sub] if sub else [name]
    return paths


def test_every_cli_command_is_in_the_readme() -> None:
    missing = [path for path in command_paths() if f"paperbot {path}" not in README]
    assert not missing, f"document these commands in the README: {missing}"


def test_every_test_the_readme_cites_exists() -> None:
    """The Reliability section names a test for each guarantee: each name must be a real test."""
    cited, current = [], None
    for path, name in re.findall(r"`(tests/[\w/]+\.py)?::(\w+)", README):
        current = path or current
        cited.append((current, name))
    assert len(cited) >= 30, "the README's Reliability section cites its tests as `tests/<file>.py::<name>`"
    missing = [
        f"{path}::{name}"
        for path, name in cited
        if not re.search(rf"^def {name}\(", (REPO / str(path)).read_text(), re.MULTILINE)
    ]
    assert not missing, f"the README cites tests that do not exist: {missing}"
