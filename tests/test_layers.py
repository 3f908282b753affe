"""The dependency direction of the product code: channels and parts build on the core, never the
other way, and never on each other.

The core is `console/` (without the customer part) and the channel contract (`channels/base.py`,
`channels/context.py`). Parts are `routing/`, `sla/`, `bots/` and `console/customers/`; channels are
`channels/<kind>/`. Every import counts, a function-local or type-checking one included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "console": "lines.console",
    "channels": "lines.channels",
    "routing": "lines.routing",
    "sla": "lines.sla",
    "bots": "lines.bots",
}
PARTS = ("lines.routing", "lines.sla", "lines.bots", "lines.console.customers")
REGISTRIES = {
    "lines.console.features": "the list of the parts' setup functions, in the order they see changes",
    "lines.channels": "the channel registry: each kind's setup, by kind",
    "lines.console.schema": "every table, the parts' included, on one metadata for migrations and tests",
}
"""Modules whose job is to name every part or channel."""
KNOWN: dict[tuple[str, str], str] = {}
"""(importer, imported) pairs allowed for now, each with why."""


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    parts[0] = PACKAGES[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (
                f"{node.module}.{alias.name}" for alias in node.names if is_module(f"{node.module}.{alias.name}")
            )


def is_module(name: str) -> bool:
    """Whether `name` is a module of the product (`from package import module`), not a name in one."""
    folders = name.split(".")[1:]
    if not folders or f"lines.{folders[0]}" not in PACKAGES.values():
        return False
    path = ROOT.joinpath(*folders)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def owner(module: str) -> str | None:
    """The part or channel a `lines.` module belongs to, "core" for the core, None outside the product."""
    for part in PARTS:
        if module == part or module.startswith(part + "."):
            return part
    if module.startswith("lines.channels."):
        kind = module.split(".")[2]
        return "core" if kind in ("base", "context") else f"lines.channels.{kind}"
    if module == "lines.channels" or module.startswith("lines.console"):
        return "core"
    return None


def offences(importer: str, source: str) -> set[str]:
    """The parts and channels `importer` (a module with this source) may not import but does."""
    if importer in REGISTRIES:
        return set()
    mine = owner(importer)
    return {theirs for theirs in map(owner, imports(source)) if theirs not in (None, "core", mine)}


def violations() -> Iterator[tuple[str, str]]:
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.parts:
                importer = module_name(path)
                for theirs in offences(importer, path.read_text(encoding="utf-8")):
                    yield importer, theirs


def test_channels_and_parts_depend_on_the_core_only() -> None:
    found = sorted({pair for pair in violations() if pair not in KNOWN})
    assert found == [], "\n".join(f"{importer} imports {imported}" for importer, imported in found)


def test_the_check_sees_each_kind_of_wrong_direction() -> None:
    local = "def f():\n    from lines.routing.engine import has_room\n"
    assert offences("lines.console.actions", local) == {"lines.routing"}
    assert offences("lines.sla.feature", "from lines.bots import hours") == {"lines.bots"}
    assert offences("lines.channels.sms.adapter", "import lines.channels.telegram.parse") == {"lines.channels.telegram"}
    assert offences("lines.channels.sms.adapter", "from lines.console.customers import contacts") == {
        "lines.console.customers"
    }
    allowed = "from lines.console.keys import events_key\nfrom lines.channels.base import BaseChannel"
    assert offences("lines.routing.feature", allowed) == set()
    assert offences("lines.console.features", "from lines.bots import feature") == set()
