"""The email channel reaches the store only through its `ChannelContext`: it imports nothing that
opens sessions or writes rows (the acknowledgement is the customers part's, like every channel's)."""

from __future__ import annotations

import ast
from pathlib import Path

EMAIL = Path(__file__).resolve().parents[3] / "channels" / "email"
STORE = ("lines.console.db", "lines.console.models", "lines.console.automated", "lines.console.keys")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_email_channel_imports_nothing_of_the_store() -> None:
    found = {f"{path.name}: {name}" for path in EMAIL.glob("*.py") for name in imported(path) if name.startswith(STORE)}
    assert found == set()
