"""Every table of Lines, the core's and each part's, on one metadata for Alembic, tests and tools."""

from __future__ import annotations

from lines.bots import models as _bots  # noqa: F401
from lines.console import models as _core
from lines.console.customers import models as _customers  # noqa: F401
from lines.routing import models as _routing  # noqa: F401
from lines.sla import models as _sla  # noqa: F401

metadata = _core.Base.metadata
