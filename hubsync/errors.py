"""One exception hierarchy: every expected failure has a reason code and a fix for the user.

The CLI renders these in one place (``hubsync.cli.app``) as a short message, never a traceback.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


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


class ConfigError(HubsyncError):
    reason = "config-invalid"


class CredentialError(HubsyncError):
    reason = "credentials"


class KeyringLockedError(CredentialError):
    """The keyring holds the secret but will not give it out until it is unlocked."""

    reason = "keyring-locked"


class NetworkError(HubsyncError):
    """DNS, TCP or timeout trouble before any protocol was spoken."""

    reason = "unreachable"


class ConnectionDropped(NetworkError):
    """An open session was cut (socket error, EOF, BYE): nothing was lost, run again."""

    reason = "connection-dropped"


class TLSFailure(HubsyncError):
    reason = "tls-untrusted"


class AuthFailure(HubsyncError):
    reason = "auth-failed"


class ProtocolFailure(HubsyncError):
    """The server said something we cannot work with (or POP3 where IMAP is needed)."""

    reason = "protocol"


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


class AlreadyRunning(HubsyncError):
    reason = "already-running"


class MessageError(HubsyncError):
    """Input that is not a usable mail message, or a message we refuse to build."""

    reason = "bad-message"
