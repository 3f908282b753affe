"""The core of Lines: domain model, storage, event bus, inbox, HTTP API, operator console."""
