"""The customers part's HTTP API, one module per job; `ROUTES` is all of it, in registration order."""

from __future__ import annotations

from lines.console.api.route_table import Route
from lines.console.customers.api import canned, contacts, directory, followups, reports, signatures, surveys

ROUTES: list[Route] = [
    *contacts.ROUTES,
    *directory.ROUTES,
    *canned.ROUTES,
    *followups.ROUTES,
    *signatures.ROUTES,
    *surveys.ROUTES,
    *reports.ROUTES,
]
