"""Doctor's verdicts in process: local checks on a real store, TLS and capability verdicts
from probe results."""

import os
from dataclasses import replace
from pathlib import Path

import pytest
from mail_factory import make

from hubsync import config as cfg
from hubsync import doctor, environment
from hubsync.doctor import local, network
from hubsync.logbook import log_manual
from hubsync.mail.probe import PortReport
from hubsync.mail.tls import CertificateInfo
from hubsync.sending import OutboxState
from hubsync.store import queries

ACCOUNT = cfg.Account("alice", "alice@example.test", "alice@example.test", "imap.test", 993)


def by_id(checks):
    return {c.id: c for c in checks}


def offline(store, home, password="pw"):  # noqa: S107 - a test password
    env = environment.Environment(home=home, password=password)
    with environment.use(env):
        return by_id(doctor.run(ACCOUNT, store, offline=True))


def test_a_fresh_account_has_never_synced_and_passes_the_rest(store, home):
    checks = offline(store, home)
    assert checks["secret"].status == "pass" and "env" in checks["secret"].evidence
    assert checks["store"].status == "pass"
    assert checks["outbox"].status == "pass"
    assert (checks["history"].status, checks["history"].reason) == ("warn", "never-synced")


def test_history_fails_after_connection_failures_and_recovers_after_a_good_sync(store, home):
    store.add_event("alice", "sync", "ok")
    store.add_event("alice", "connection", "auth-failed", detail="password refused")
    store.add_event("alice", "connection", "timeout")
    history = offline(store, home)["history"]
    assert (history.status, history.reason) == ("fail", "timeout")
    assert "2 failed connection(s)" in history.evidence
    store.add_event("alice", "sync", "ok")
    history = offline(store, home)["history"]
    assert history.status == "pass" and "recovered since" in history.evidence


def test_history_counts_only_what_came_after_the_last_good_sync(store, home):
    """Old failures are not listed as new ones; the count equals the list; the fix names the
    cause and says that a successful sync clears the check."""
    for reason in ("auth-failed", "timeout", "tls-expired", "dns"):
        store.add_event("alice", "connection", reason)
    store.add_event("alice", "sync", "ok")
    store.add_event("alice", "connection", "auth-failed", detail="password refused")
    history = offline(store, home)["history"]
    assert history.status == "fail" and history.reason == "auth-failed"
    assert history.evidence.startswith("1 failed connection(s) since the last successful sync")
    listed = history.evidence.split("): ", 1)[1]
    assert listed.count(";") == 0 and listed.endswith("auth-failed")
    assert "tls-expired" not in history.evidence and "dns" not in history.evidence
    assert "hubsync connect alice" in history.fix and "`hubsync sync`" in history.fix
    store.add_event("alice", "connection", "unreachable")
    history = offline(store, home)["history"]
    assert history.evidence.startswith("2 failed connection(s)")
    assert history.evidence.split("): ", 1)[1].count(";") == 1
    assert "unreachable" in history.fix and "clears this check" in history.fix


def test_a_long_history_says_how_many_it_lists(store, home):
    for _ in range(local.HISTORY_LISTED + 3):
        store.add_event("alice", "connection", "timeout")
    history = offline(store, home)["history"]
    assert history.evidence.startswith(f"{local.HISTORY_LISTED + 3} failed connection(s)")
    assert f"the last {local.HISTORY_LISTED}:" in history.evidence
    assert history.evidence.count("timeout") == local.HISTORY_LISTED


def test_a_folder_rescanned_on_every_sync_is_a_warning_with_the_cost(store, home):
    store.add_event("alice", "sync", "ok")
    store.add_event("alice", "sync", "uidvalidity-changed", detail="INBOX: 1 -> 2; rescanning")
    store.add_event("alice", "sync", "ok")
    assert offline(store, home)["uidvalidity"].status == "pass", "one change is normal"
    for n in range(3, 6):
        detail = f"INBOX.Sent: {n} -> {n + 1}; rescanning"
        store.add_event("alice", "sync", "uidvalidity-changed", detail=detail)
        store.add_event("alice", "sync", "ok")
    check = offline(store, home)["uidvalidity"]
    assert (check.status, check.reason) == ("warn", "uidvalidity-unstable")
    assert "INBOX.Sent" in check.evidence and "INBOX," not in check.evidence
    assert "whole folder" in check.evidence and "read-write" in check.fix
    for _ in range(5):
        store.add_event("alice", "sync", "ok")
    assert offline(store, home)["uidvalidity"].status == "pass", "stable again"


def test_outbox_warns_about_messages_owed_a_copy_or_of_unknown_outcome(store, home):
    store.outbox_add("alice", "<u@x>", b"raw", "a@x", ["b@x"], "Hi", "Sent")
    store.outbox_update("<u@x>", OutboxState.UNCERTAIN)
    outbox = offline(store, home)["outbox"]
    assert (outbox.status, outbox.reason) == ("warn", "outbox-stuck")
    assert "<u@x> (uncertain)" in outbox.evidence and "never resends" in outbox.fix


def test_a_damaged_attachment_file_fails_the_attachment_check(store, home):
    log_manual(store, "alice", make("<a@x>", attachment=("q.pdf", b"%PDF-1")), ())
    assert offline(store, home)["attachments"].status == "pass"
    (row,) = queries.attachment_files(store)
    if store.kind == "sqlite":
        path = home / "data" / "attachments" / row["sha256"][:2] / row["sha256"]
        path.write_bytes(b"changed")
    else:
        store.db.execute("UPDATE attachment_blobs SET data = ?", (b"changed",))
    check = offline(store, home)["attachments"]
    assert (check.status, check.reason) == ("fail", "attachment-corrupt")
    assert "q.pdf of <a@x>: corrupt" in check.evidence


def test_no_password_anywhere_fails_the_secret_check(store, home, monkeypatch):
    monkeypatch.setattr(local.credentials, "from_keyring", lambda account: None)
    secret = offline(store, home, password="")["secret"]
    assert (secret.status, secret.reason) == ("fail", "secret-missing")


def cert(**changes) -> CertificateInfo:
    good = CertificateInfo(
        subject="imap.test",
        issuer="Test CA",
        not_before="2026-01-01",
        not_after="2027-06-01T00:00:00",
        days_left=180,
        names=["imap.test"],
        matches_host=True,
        trusted=True,
    )
    return replace(good, **changes)


@pytest.mark.parametrize(
    "report, status, reason",
    [
        (PortReport(993, True, "imap", "implicit", certificate=cert()), "pass", "ok"),
        (PortReport(993, True, "imap", "starttls", certificate=cert()), "fail", "tls-mode"),
        (PortReport(993, True, "imap", "implicit"), "fail", "tls-missing"),
        (
            PortReport(993, True, "imap", "implicit", certificate=cert(days_left=-2)),
            "fail",
            "tls-expired",
        ),
        (
            PortReport(
                993, True, "imap", "implicit", certificate=cert(matches_host=False, names=["a.b"])
            ),
            "fail",
            "tls-name-mismatch",
        ),
        (
            PortReport(993, True, "imap", "implicit", certificate=cert(trusted=False)),
            "fail",
            "tls-untrusted",
        ),
        (
            PortReport(993, True, "imap", "implicit", certificate=cert(days_left=3)),
            "warn",
            "tls-expiring",
        ),
    ],
)
def test_tls_verdicts(report, status, reason):
    check = network._tls_check("imap", "imap.test", 993, "ssl", report)
    assert (check.id, check.status, check.reason) == ("imap-tls", status, reason)
    if status != "pass":
        assert check.fix


def test_mismatched_name_suggests_the_name_on_the_certificate():
    report = PortReport(
        993, True, "imap", "implicit", certificate=cert(matches_host=False, names=["mail.host"])
    )
    assert "mail.host" in network._tls_check("imap", "imap.test", 993, "ssl", report).fix


def test_missing_capabilities_are_a_warning_that_names_the_loss():
    lowercase = network._capabilities_check(["idle", "uidplus", "special-use", "condstore"])
    assert lowercase.status == "pass", "capability names are case-insensitive"
    check = network._capabilities_check(["IMAP4rev1", "UIDPLUS"])
    assert (check.status, check.reason) == ("warn", "capability-missing")
    assert "IDLE (no instant logging" in check.evidence and "CONDSTORE" in check.evidence


def test_server_identity_from_greeting_or_id():
    assert network._server_identity("imap", "* OK Dovecot ready.").evidence.startswith("Dovecot")
    assert network._server_identity("imap", "* OK", "name=Cyrus IMAP").reason == "recognised"
    assert network._server_identity("imap", "* OK hello").reason == "unrecognised"


def test_config_verdict(tmp_path: Path):
    assert doctor.config_check("c.toml", None).status == "pass"
    error = cfg.ConfigError("bad", fix="fix it", reason="config-invalid")
    check = doctor.config_check("c.toml", error)
    assert (check.status, check.reason, check.fix) == ("fail", "config-invalid", "fix it")


def test_unreadable_replies_are_reported_with_their_ids(store, home):
    assert offline(store, home)["unreadable-messages"].status == "pass"
    for n in range(4):
        store.add_event(
            "alice", "message-error", "unreadable", f"<bad{n}@x>", f"INBOX UID {n}: broken"
        )
    check = offline(store, home)["unreadable-messages"]
    assert (check.status, check.reason) == ("warn", "message-unreadable")
    assert check.evidence.startswith("4 matched message(s) could not be read")
    assert "<bad3@x>: INBOX UID 3: broken" in check.evidence
    assert "<bad0@x>" not in check.evidence  # the last three only
    assert "hubsync why MESSAGE-ID" in check.fix


def test_a_lease_nobody_renews_is_a_warning_and_a_live_one_names_its_worker(store, home):
    import time

    assert "lease" not in offline(store, home)  # no worker ever claimed the account
    now_ms = int(time.time() * 1000)
    store.claim_lease("alice", "host:42:abc", now_ms, 60_000)
    live = offline(store, home)["lease"]
    assert live.status == "pass" and "host:42:abc" in live.evidence
    store.release_lease("alice", "host:42:abc")
    store.claim_lease("alice", "host:43:def", now_ms - 120_000, 60_000)  # expired a minute ago
    stale = offline(store, home)["lease"]
    assert (stale.status, stale.reason) == ("warn", "lease-expired")
    assert "host:43:def" in stale.evidence and "hubsync worker" in stale.fix


def test_a_team_secret_is_what_the_secret_check_finds(store, home, tmp_path):
    from dataclasses import replace

    from hubsync.team import secrets

    key = secrets.new_key_file(tmp_path / "team.key")
    account = replace(ACCOUNT, credential_source="store")
    env = environment.Environment(home=home, secret_key_file=str(key))
    with environment.use(env):
        secrets.put(store, "alice", "team-pw")
        found = by_id(doctor.run(account, store, offline=True))["secret"]
    assert found.status == "pass" and "team store" in found.evidence
    with environment.use(environment.Environment(home=home)):  # no key file
        missing = by_id(doctor.run(account, store, offline=True))["secret"]
    assert (missing.status, missing.reason) == ("fail", "secret-key-missing")


def fake_crontab(tmp_path, monkeypatch, lines: str) -> None:
    bin_dir = tmp_path / "crontab-bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "crontab"
    tool.write_text(f"#!/bin/sh\ncat <<'EOF'\n{lines}\nEOF\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


def test_unattended_says_what_runs_the_sync_and_whether_it_can_log_in(
    store, home, tmp_path, monkeypatch
):
    from hubsync import service

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    fake_crontab(tmp_path, monkeypatch, "# nothing of hubsync here")
    check = offline(store, home)["unattended"]
    assert check.status == "pass" and "not set up" in check.evidence

    with environment.use(environment.Environment(home=home)):
        line = service.cron_line("alice")
    fake_crontab(tmp_path, monkeypatch, f"MAILTO=me\n{line}")
    check = offline(store, home, password="")["unattended"]  # the keyring, as cron would have
    assert (check.status, check.reason) == ("warn", "cron-cannot-reach-keyring")
    assert "password_command" in check.fix and "no run recorded yet" in check.evidence

    unit = tmp_path / "xdg" / "systemd" / "user" / service.unit_name("alice")
    unit.parent.mkdir(parents=True)
    unit.write_text("[Unit]\n")
    check = offline(store, home)["unattended"]
    assert check.status == "pass" and "systemd user unit" in check.evidence
