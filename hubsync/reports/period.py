"""Dates people type for report periods (`--since`)."""

import datetime as dt

from hubsync.errors import UsageError


def since_date(text: str | None, option: str = "--since") -> str | None:
    """``text`` as an ISO date or date-time to compare stored dates with (they are UTC, ISO
    8601), or None when not given. A date-time is taken in its own offset, or in local time
    without one, and given in UTC. UsageError, with an example, for anything else (never a
    silently empty report)."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value).isoformat()
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.astimezone(dt.UTC).isoformat(timespec="seconds")
    except ValueError:
        raise UsageError(
            f"{option} {value!r} is not a date.",
            fix=f"Use YYYY-MM-DD, for example {option} 2026-11-01, or an ISO date and time "
            "such as 2026-11-01T09:00:00+01:00.",
            reason="bad-date",
        ) from None
