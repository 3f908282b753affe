"""Every table of Lines, the core's and each part's, on one metadata for Alembic, tests and tools."""

from __future__ import annotations

from lines.bots import models as _bots  # noqa: F401
from lines.console import models as _core
from lines.console.customers import models as _customers  # noqa: F401
from lines.console.search import index as _search
from lines.routing import models as _routing  # noqa: F401
from lines.sla import models as _sla  # noqa: F401

metadata = _core.Base.metadata
_search.attach(metadata)


def include_name(name: str | None, type_: str, _parent: object) -> bool:
    """For Alembic's comparisons: the search tables are made by their own DDL, not by models."""
    return not (type_ == "table" and _search.is_search_table(name))
