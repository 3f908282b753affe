"""Search over messages, subjects, contacts and conversation numbers (docs/api.md, docs/console.md).

`index` keeps the full-text tables current from every flush; `query` finds and highlights.
"""
