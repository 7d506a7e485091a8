"""hubsync: connect an email inbox to a local CRM log, and audit it."""

__version__ = "0.1.0"
