"""Retry or stop: one classifier for the watch and the worker, and network cuts told apart
from a server's answer."""

import ssl

import pytest
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from hubsync.errors import (
    AuthFailure,
    ConnectionDropped,
    CredentialError,
    NetworkError,
    StoreError,
    TLSFailure,
)
from hubsync.mail import imap
from hubsync.mail.diagnosis import diagnose_login
from hubsync.mail.failures import connection_failure
from hubsync.sync import verdict


@pytest.mark.parametrize(
    ("exc", "refused"),
    [
        (diagnose_login("a1 NO [AUTHENTICATIONFAILED] Authentication failed."), True),
        (diagnose_login("a1 NO [UNAVAILABLE] Try again later"), False),
        (diagnose_login("a1 NO [LIMIT] Too many"), False),
        (diagnose_login("a1 NO [INUSE] Mailbox locked"), False),
        (diagnose_login("a1 NO Too many simultaneous connections"), False),
        (TLSFailure("untrusted", reason="tls-untrusted"), True),
        (TLSFailure("expired", reason="tls-expired"), True),
        (TLSFailure("garbled", reason="tls-failed"), False),
        (CredentialError("no keyring"), True),
        (ConnectionDropped("cut"), False),
        (NetworkError("timeout", reason="timeout"), False),
        (StoreError("disk full"), False),
    ],
)
def test_only_an_answer_that_no_retry_changes_stops_a_watch(exc, refused):
    assert verdict.is_refusal(exc) is refused
    assert verdict.is_retryable(exc) is not refused


def test_a_defect_is_neither_retried_nor_a_refusal():
    assert not verdict.is_retryable(KeyError("bug"))
    assert verdict.is_retryable(TimeoutError()) and verdict.is_retryable(IMAPClientError("x"))


def test_backoff_doubles_to_five_minutes_with_jitter_in_the_upper_quarter():
    assert [verdict.backoff_delay(n, 1.0) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert verdict.backoff_delay(0, 0.0) == 0.75
    assert verdict.backoff_delay(30, 1.0) == 300.0
    assert verdict.backoff_delay(10_000, 0.5) == pytest.approx(262.5)


@pytest.mark.parametrize(
    "cut",
    [
        ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
        ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"),
        ConnectionResetError(104, "Connection reset by peer"),
        ssl.SSLError(1, "[SSL: UNEXPECTED_EOF_WHILE_READING] unexpected eof while reading"),
    ],
)
def test_a_cut_during_the_tls_handshake_is_a_dropped_connection_not_a_tls_failure(cut):
    error = connection_failure(cut, "imap.example.test", 993, "IMAP", 30)
    assert isinstance(error, ConnectionDropped)
    assert error.reason == "connection-dropped" and "Nothing was lost" in error.fix


def test_a_real_tls_failure_is_still_one():
    wrong = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    error = connection_failure(wrong, "imap.example.test", 143, "IMAP", 30)
    assert isinstance(error, TLSFailure) and error.reason == "tls-failed"


class _CutClient:
    """What imapclient does when the socket closes during LOGIN: imaplib's abort, wrapped
    in a LoginError."""

    def login(self, username, password):
        try:
            raise IMAPClientAbortError("socket error: EOF")
        except IMAPClientAbortError as exc:
            raise LoginError(str(exc)) from None


class _RefusingClient:
    def login(self, username, password):
        try:
            raise IMAPClientError("LOGIN command error: BAD [b'[AUTHENTICATIONFAILED] no']")
        except IMAPClientError as exc:
            raise LoginError(str(exc)) from None


def test_a_cut_during_login_is_not_blamed_on_the_password():
    with pytest.raises(ConnectionDropped) as cut:
        imap.login(_CutClient(), "alice", "secret")
    assert "did not refuse" in cut.value.message
    with pytest.raises(AuthFailure) as refused:
        imap.login(_RefusingClient(), "alice", "secret")
    assert refused.value.reason == "auth-failed"


def test_an_outage_is_retried_every_few_seconds_and_a_cut_backs_off():
    retry = verdict.Reconnects(usual=30, jitter=lambda: 1.0)
    silence = NetworkError("no answer", reason="timeout")
    # Nothing answered: the next attempt 5 s after the last began, with a 5 s step timeout.
    assert retry.failed(silence, up=None, tried=5.0) == 0.0
    assert retry.failed(silence, up=None, tried=1.0) == 4.0
    assert retry.timeout == 5
    for _ in range(10):
        retry.failed(silence, up=None, tried=5.0)
    assert retry.timeout == 5, "the first minute of an outage: every 5 s"
    retry.failed(silence, up=None, tried=5.0)
    assert retry.timeout == 10
    for _ in range(12):
        retry.failed(silence, up=None, tried=5.0)
    assert retry.timeout == 20, "a slow server still gets in: the timeout doubles"
    for _ in range(30):
        retry.failed(silence, up=None, tried=5.0)
    assert retry.timeout == 30, "never past the usual one"
    # A cut after contact backs off 1, 2, 4 s..., and a session that came up resets only the
    # step timeout; the backoff resets after a connection stayed up five minutes.
    cut = ConnectionDropped("cut")
    assert [retry.failed(cut, up=None, tried=0.1) for _ in range(3)] == [1.0, 2.0, 4.0]
    assert retry.timeout is None
    retry.connected()
    assert retry.failed(cut, up=10.0, tried=10.0) == 8.0
    assert retry.failed(cut, up=301.0, tried=301.0) == 1.0


def test_the_backoff_resets_only_after_more_than_five_minutes_up():
    retry = verdict.Reconnects(usual=30, jitter=lambda: 1.0)
    cut = ConnectionDropped("cut")
    assert [retry.failed(cut, up=None, tried=0.1) for _ in range(3)] == [1.0, 2.0, 4.0]
    assert retry.failed(cut, up=300.0, tried=300.0) == 8.0  # exactly five minutes: not yet
    assert retry.failed(cut, up=300.5, tried=300.5) == 1.0


def test_silence_after_the_session_was_up_is_a_cut_and_connecting_resets_the_silence():
    retry = verdict.Reconnects(usual=30, jitter=lambda: 1.0)
    silence = NetworkError("no answer", reason="timeout")
    for _ in range(13):
        retry.failed(silence, up=None, tried=5.0)
    assert retry.timeout == 10 and retry.silent == 13
    assert retry.failed(silence, up=2.0, tried=9.0) == 1.0  # it had come up: a cut, backed off
    assert (retry.silent, retry.timeout) == (0, None)
    retry.failed(silence, up=None, tried=30.0)
    assert retry.timeout == 5  # counted afresh
    assert retry.failed(silence, up=None, tried=7.5) == 0.0  # the attempt took longer than 5 s
    retry.connected()
    assert (retry.silent, retry.timeout) == (0, None)
    unreachable = NetworkError("no route", reason="unreachable")
    dns = NetworkError("no such host", reason="dns")
    assert verdict.is_silence(unreachable) and verdict.is_silence(dns)
    assert not verdict.is_silence(NetworkError("reset", reason="connection-reset"))
    assert not verdict.is_silence(ConnectionDropped("cut"))


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [
        (0, 0.0, 0.75),
        (0, 0.123456, 0.781),
        (3, 0.5, 7.0),
        (8, 0.0, 192.0),
        (9, 0.0, 225.0),
        (10**6, 1.0, 300.0),
    ],
)
def test_backoff_values(attempt, jitter, delay):
    assert verdict.backoff_delay(attempt, jitter) == delay


def test_the_jitter_is_a_fraction():
    values = {verdict.jitter() for _ in range(50)}
    assert all(0.0 <= v < 1.0 for v in values) and len(values) > 40


def test_a_fresh_schedule_uses_the_usual_timeout_and_waits_are_rounded_to_milliseconds():
    retry = verdict.Reconnects(usual=30, jitter=lambda: 0.0)
    assert retry.timeout is None and retry.attempt == 0 and retry.silent == 0
    silence = NetworkError("no answer", reason="timeout")
    assert retry.failed(silence, up=None, tried=1.23456) == 3.765


def test_an_unreachable_database_is_retried_at_1_2_4_up_to_60_seconds_with_jitter():
    assert [verdict.store_backoff(n, 0.5) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert verdict.store_backoff(0, 0.5) == 1  # a first attempt counted from 0 too
    assert verdict.store_backoff(3, 0.0) == 2.0 and verdict.store_backoff(3, 1.0) == 6.0
    assert verdict.store_backoff(100, 1.0) == 90.0  # the cap, spread by the jitter


def test_a_workers_fair_share():
    from hubsync.team.worker import fair_share

    assert fair_share(30, {}, "me", 50) == 30  # alone: everything
    assert fair_share(30, {"me": 30}, "me", 12) == 12  # capped by --concurrency
    assert fair_share(30, {"a": 10, "b": 10, "me": 10}, "me", 50) == 10
    # a fourth joined and holds nothing yet: the others make room down to floor(30 / 4)
    assert fair_share(30, {"a": 8, "b": 8, "c": 8, "d": 0}, "a", 50) == 7
    assert fair_share(30, {"a": 8, "b": 8, "c": 7, "d": 7}, "a", 50) == 8  # balanced: ceil
    assert fair_share(30, {"a": 8, "b": 8, "c": 7, "d": 7}, "d", 50) == 8
    assert fair_share(0, {"a": 0}, "a", 50) == 0
