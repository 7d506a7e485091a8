"""The local CRM log: SQLite (all SQL lives in this package) plus attachment files."""

from hubsync.store.db import Store, open_configured, open_store

__all__ = ["Store", "open_configured", "open_store"]
