"""Dates people type for report periods (`--since`)."""

import datetime as dt

from hubsync.errors import UsageError


def since_date(text: str | None) -> str | None:
    """``text`` as an ISO date or date-time to compare stored dates with, or None when not
    given. UsageError, with an example, for anything else (never a silently empty report)."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value).isoformat()
        return dt.datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise UsageError(
            f"--since {value!r} is not a date.",
            fix="Use YYYY-MM-DD, for example --since 2026-11-01 (or an ISO date and time).",
            reason="bad-date",
        ) from None
