"""One exception hierarchy: every expected failure has a reason code and a fix for the user.

The CLI renders these in one place (``hubsync.cli.app``) as a short message, never a traceback.
"""

# Exit codes, one meaning each (README and `hubsync --help` list them): a script can tell a
# retry from a page to IT without parsing the error text.
EXIT_OK = 0  # success, "found nothing" included
EXIT_FAILED = 1  # the operation failed
EXIT_USAGE = 2  # usage error: a bad option or value, an unknown account
EXIT_AUTH = 3  # authentication refused or consent revoked: a person must act
EXIT_UNREACHABLE = 4  # server or network unreachable: a retry may help
EXIT_BUSY = 5  # another hubsync holds the account (or the store)
EXIT_INTERRUPTED = 130  # Ctrl-C, at a prompt or during work


class HubsyncError(Exception):
    """An expected failure. ``reason`` is a stable code for scripts; ``fix`` says what to do."""

    reason = "failed"
    exit_code = EXIT_FAILED

    def __init__(
        self,
        message: str,
        *,
        fix: str | None = None,
        reason: str | None = None,
        details: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if reason:
            self.reason = reason
        self.details = details or {}

    def to_dict(self) -> dict:
        """The error as JSON (`--json`): reason code, message, fix and details."""
        return {"error": self.reason, "message": self.message, "fix": self.fix, **self.details}


class UsageError(HubsyncError):
    reason = "usage"
    exit_code = EXIT_USAGE


class NotFound(HubsyncError):
    """What was asked for does not exist (an account, contact, template, message): the
    command was used correctly, so exit 1, not the usage code."""

    reason = "not-found"


class UnknownAccount(UsageError):
    """An account name that is not in config.toml: a usage error (exit 2), like a bad option."""

    reason = "no-account"


class ConfigError(HubsyncError):
    reason = "config-invalid"


class CredentialError(HubsyncError):
    """No usable secret (none stored, no keyring reachable, a failing password_command): a
    person must act, so the authentication exit code."""

    reason = "credentials"
    exit_code = EXIT_AUTH


class KeyringLockedError(CredentialError):
    """The keyring holds the secret but will not give it out until it is unlocked."""

    reason = "keyring-locked"


class NetworkError(HubsyncError):
    """DNS, TCP or timeout trouble before any protocol was spoken."""

    reason = "unreachable"
    exit_code = EXIT_UNREACHABLE


class ConnectionDropped(NetworkError):
    """An open session was cut (socket error, EOF, BYE): nothing was lost, run again."""

    reason = "connection-dropped"


class TLSFailure(HubsyncError):
    reason = "tls-untrusted"


class AuthFailure(HubsyncError):
    reason = "auth-failed"
    exit_code = EXIT_AUTH


class ProtocolFailure(HubsyncError):
    """The server said something we cannot work with (or POP3 where IMAP is needed)."""

    reason = "protocol"


class FetchRefused(ProtocolFailure):
    """The server answered a FETCH with a tagged NO or BAD."""

    reason = "fetch-failed"


class NotImap(ProtocolFailure):
    """The port answered, but not as an IMAP server (POP3, SMTP, HTTP, ...)."""

    reason = "not-imap"


class ResponseTooLarge(ProtocolFailure):
    """The server sent more than the byte budget of one command."""

    reason = "imap-response-too-large"


class ServerTooSlow(NetworkError):
    """The server kept one command running past its time budget."""

    reason = "imap-too-slow"


class SendFailure(HubsyncError):
    reason = "send-failed"


class SmtpDisconnected(SendFailure):
    """The SMTP connection dropped during submission: the server may or may not have accepted
    the message, so it must never be resubmitted automatically."""

    reason = "smtp-disconnected"


class StoreError(HubsyncError):
    reason = "store"


class StoreConflict(StoreError):
    """A row that must be unique is already there (a message logged, a key taken): for the
    caller usually "done already", decided on the class, never on the text."""

    reason = "store-conflict"


class OutboxKeyTaken(StoreConflict):
    """Another message of the account already carries this idempotency key."""

    reason = "outbox-key-taken"


class StoreUnreachable(StoreError):
    """The database server cannot be reached (down, restarting, the connection dropped):
    waiting and trying again helps, so long-running loops do."""

    reason = "store-unreachable"
    exit_code = EXIT_UNREACHABLE


class StoreBusy(StoreError):
    """Another process holds the store's write lock (SQLite) for longer than we wait."""

    reason = "store-busy"
    exit_code = EXIT_BUSY


class AlreadyRunning(HubsyncError):
    reason = "already-running"
    exit_code = EXIT_BUSY


class MessageError(HubsyncError):
    """Input that is not a usable mail message, or a message we refuse to build."""

    reason = "bad-message"
