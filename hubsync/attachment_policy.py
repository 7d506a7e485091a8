"""Whether an email's attachments are kept: the account's ``log_attachments`` switch and its
size limit (``attachment_limit_mb``, 50 MB by default) apply alike to synced replies,
messages logged by hand and messages hubsync sends. One place decides, and says why."""

from dataclasses import dataclass

from hubsync import config as cfg

OFF = "attachments-off"
OVER_LIMIT = "over-limit"


@dataclass(frozen=True)
class Decision:
    keep: bool
    reason: str | None = None  # OFF or OVER_LIMIT when not kept
    note: str | None = None  # what the user is told, stored with the message


def human_size(count: float) -> str:
    """1,234 bytes, 12 KB, 3.4 MB: never "0.0 MB" for a small size."""
    if count < 1024:
        return f"{int(count):,} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count / 1048576:.3g} MB"


def decide(account: cfg.Account, size: int) -> Decision:
    """Keep the attachments of a ``size``-byte email, or not (and why)."""
    if not account.log_attachments:
        return Decision(False, OFF, "attachment logging is switched off")
    limit = int(account.attachment_limit_mb * 1024 * 1024)
    if size < limit:
        return Decision(True)
    return Decision(
        False,
        OVER_LIMIT,
        f"attachments not logged: the email is {human_size(size)}, over the "
        f"{human_size(limit)} limit",
    )
