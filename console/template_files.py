"""The packaged page templates, read into memory once: rendering a page then never touches the disk.

Jinja's file loaders stat (and on first use read) the template file inside the request, which blocks
the event loop. The templates ship inside the package and change only with a new release.
"""

from __future__ import annotations

from importlib import resources

import jinja2


def preloaded_templates() -> jinja2.DictLoader:
    """Every file under `lines.web/templates`, by its name relative to that folder."""
    sources: dict[str, str] = {}
    pending = [(resources.files("lines.web").joinpath("templates"), "")]
    while pending:
        folder, prefix = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((entry, f"{prefix}{entry.name}/"))
            elif entry.is_file() and not entry.name.startswith("."):
                sources[prefix + entry.name] = entry.read_text(encoding="utf-8")
    return jinja2.DictLoader(sources)
