"""Logging from the user's own mail client, on real servers: another IMAP session (as
Thunderbird or Apple Mail would) copies a message into the CRM folder, tags messages with the
keyword, files Sent mail; Postfix delivers a message BCC'd to the plus-address by LMTP; a
proxy makes a server that keeps no new keywords.

The sandbox's mailboxes are shared by the whole test session, so each test uses a folder and
a keyword of its own (a CRM folder or a $CRM tag left behind would be logged by every later
test's account, which has the default ways on) and removes its folder at the end."""

import contextlib
import email.utils
import imaplib
import signal
import smtplib
import ssl
import tomllib
import uuid

import pytest
import tomli_w
from helpers import connect_args, wait_for
from test_sync import watching

from sandbox.imap_proxy import ImapProxy

ALICE = "alice@example.test"
PLUS = "alice+crm@example.test"
SERVERS = ("dovecot", "cyrus", "courier")
SENT = {"dovecot": "Sent", "cyrus": "Sent", "courier": "INBOX.Sent"}
PREFIX = {"dovecot": "", "cyrus": "", "courier": "INBOX."}  # the personal namespace


@pytest.fixture
def crm(sandbox):
    """A CRM folder name and keyword of this test's own; the folder is deleted afterwards on
    every server that has it."""
    tag = uuid.uuid4().hex[:8]
    ways = {"folder": f"CRM-{tag}", "keyword": f"$crm{tag}"}
    yield ways
    for server in SERVERS:
        with contextlib.suppress(Exception), mail_client(sandbox, server) as client:
            client.delete(f'"{PREFIX[server]}{ways["folder"]}"')


def unique(tag: str) -> str:
    return f"<{tag}-{uuid.uuid4().hex[:12]}@example.test>"


def message(
    mid: str, sender: str, to: str, subject: str, parent: str = "", extra: str = ""
) -> bytes:
    lines = [
        *([extra] if extra else []),
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {email.utils.formatdate()}",
        f"Message-ID: {mid}",
    ]
    if parent:
        lines += [f"In-Reply-To: {parent}", f"References: {parent}"]
    return ("\r\n".join(lines) + "\r\n\r\nLet us talk.\r\n").encode()


@contextlib.contextmanager
def mail_client(sandbox, server: str, port: int | None = None):
    """Another IMAP session on alice's mailbox: her own mail client."""
    context = ssl.create_default_context(cafile=str(sandbox.ca.cert_path))
    conn = imaplib.IMAP4_SSL(
        "localhost", port or sandbox.imap_port(server), ssl_context=context, timeout=30
    )
    conn.login(ALICE, sandbox.users[ALICE].password)
    try:
        yield conn
    finally:
        conn.logout()


def put(conn, folder: str, raw: bytes, flags: str | None = None) -> None:
    typ, data = conn.append(
        f'"{folder}"', flags, imaplib.Time2Internaldate(email.utils.time.time()), raw
    )
    assert typ == "OK", data


def uid_of(conn, folder: str, mid: str) -> bytes:
    conn.select(f'"{folder}"')
    typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", mid)
    assert typ == "OK" and data[0], (folder, mid, data)
    return data[0].split()[-1]


def copy_into(conn, source: str, mid: str, target: str) -> None:
    """What dragging a message into a folder does in a mail client (COPY works everywhere)."""
    uid = uid_of(conn, source, mid)
    typ, data = conn.uid("COPY", uid, f'"{target}"')
    assert typ == "OK", data


def tag(conn, folder: str, mid: str, keyword: str) -> None:
    uid = uid_of(conn, folder, mid)
    typ, data = conn.uid("STORE", uid, "+FLAGS", f"({keyword})")
    assert typ == "OK", data


def why(cli, mid: str) -> dict:
    result = cli("why", mid, "--json", "--offline")
    verdict = result.json()
    assert result.code == (1 if verdict["rule"] == "unknown" else 0), result.stderr
    return verdict


def set_config(cli, **values) -> None:
    path = cli.home / "config.toml"
    config = tomllib.loads(path.read_text())
    for account in config["accounts"].values():
        account.update(values)
    path.write_text(tomli_w.dumps(config))


def connected(cli, sandbox, server: str, crm: dict, *extra: str) -> dict:
    imap = server if server != "dovecot" else "main"
    result = cli(
        *connect_args(sandbox, server, imap),
        "--log-folder",
        crm["folder"],
        "--log-keyword",
        crm["keyword"],
        "--log-address",
        PLUS,
        *extra,
        "--json",
        input=sandbox.users[ALICE].password + "\n",
    )
    assert result.code == 0, result.stderr
    return result.json()


@pytest.mark.parametrize("server", SERVERS)
def test_every_way_on_each_server(cli, sandbox, server, crm):
    ways = connected(cli, sandbox, server, crm, "--track-sent", "contacts")["client_ways"]
    folder, keyword = PREFIX[server] + crm["folder"], crm["keyword"]
    assert ways["log_folder_found"] == folder and ways["keyword_available"] is True
    set_config(cli, never_log=["hr.test"])
    lead, tagged, mine, hr, hr_tagged = (
        unique(t) for t in ("lead", "tagged", "mine", "hr", "hrtag")
    )
    with mail_client(sandbox, server) as client:
        put(client, "INBOX", message(lead, "Bob <bob@customer.test>", ALICE, "Interested"))
        copy_into(client, "INBOX", lead, folder)  # dragged into the CRM folder
        put(client, "INBOX", message(tagged, "carol@buyer.test", ALICE, "Question"))
        tag(client, "INBOX", tagged, keyword)  # a Thunderbird tag
        put(client, SENT[server], message(mine, ALICE, "dan@d.test", "Offer"), f"({keyword})")
        put(client, "INBOX", message(hr, "x@hr.test", ALICE, "Salary"))
        copy_into(client, "INBOX", hr, folder)
        put(client, "INBOX", message(hr_tagged, "y@hr.test", ALICE, "Review"))
        tag(client, "INBOX", hr_tagged, keyword.upper())  # any case
    synced = cli("sync", "--json")
    assert synced.code == 0, synced.stderr
    assert synced.json()["logged_by_way"] == {"log-folder": 1, "keyword": 2}
    assert [why(cli, m)["rule"] for m in (lead, tagged, mine)] == [
        "log-folder",
        "keyword",
        "keyword",
    ]
    for kept_out in (hr, hr_tagged):
        said = why(cli, kept_out)
        assert (said["rule"], said["logged"]) == ("never-log", False)
        assert "hr.test" in said["explanation"]
    # replies to what was logged from the client are logged as replies
    reply, to_bob, to_zed, all3 = (unique(t) for t in ("reply", "tobob", "tozed", "all3"))
    with mail_client(sandbox, server) as client:
        put(client, "INBOX", message(reply, "bob@customer.test", ALICE, "Re: Interested", lead))
        put(client, SENT[server], message(to_bob, ALICE, "bob@customer.test", "Follow-up"))
        put(client, SENT[server], message(to_zed, ALICE, "zed@z.test", "Hi"))
        # one message, three ways: the keyword, the CRM folder and the logging address
        raw = message(all3, ALICE, "erin@e.test", "Three ways", extra=f"X-Original-To: {PLUS}")
        put(client, SENT[server], raw, f"({keyword})")
        copy_into(client, SENT[server], all3, folder)
        put(client, "INBOX", raw)
    second = cli("sync", "--json").json()
    assert why(cli, reply)["rule"] == "in-reply-to"
    assert why(cli, to_bob)["rule"] == "tracked-sent"  # bob is a contact since the lead
    assert why(cli, to_zed)["logged"] is False  # not a contact: track_sent = contacts
    assert why(cli, all3)["logged"] is True
    assert second["logged"] == 3
    assert cli("sync", "--json").json()["logged"] == 0  # nothing twice
    report = cli("report", "--json").json()["logged_from_client"]
    assert sum(report.values()) == 5 and report["tracked-sent"] == 1
    contacts = {c["address"] for c in cli("contacts", "--json").json()["contacts"]}
    assert PLUS not in contacts and "zed@z.test" not in contacts and "x@hr.test" not in contacts


def test_a_message_copied_into_the_crm_folder_is_logged_by_the_watch(cli, sandbox, crm):
    connected(cli, sandbox, "dovecot", crm)
    lead = unique("watched")
    with watching(cli, signal.SIGINT, "--poll", "2"):
        with mail_client(sandbox, "dovecot") as client:
            put(client, "INBOX", message(lead, "fay@f.test", ALICE, "Demo?"))
            copy_into(client, "INBOX", lead, crm["folder"])
        wait_for(lambda: why(cli, lead)["logged"], timeout=20)
    assert why(cli, lead)["rule"] == "log-folder"


def test_a_bcc_to_the_plus_address_is_delivered_by_lmtp_and_logged_once(cli, sandbox, crm):
    test = connected(cli, sandbox, "dovecot", crm, "--test-log-address")["client_ways"]
    # Dovecot's lmtp_save_to_detail_mailbox files alice+crm into a folder "crm" where one
    # exists, else INBOX; either is read.
    assert test["log_address_delivered_to"] in ("INBOX", "crm")
    mid = unique("bcc")
    msg = message(mid, ALICE, "gus@g.test", "Proposal").replace(b"Message-ID", b"Message-Id")
    context = ssl.create_default_context(cafile=str(sandbox.ca.cert_path))
    with smtplib.SMTP("localhost", sandbox.postfix.submission_port, timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.login(ALICE, sandbox.users[ALICE].password)
        smtp.sendmail(ALICE, ["gus@g.test", PLUS], msg)  # Bcc: not in the header
    with mail_client(sandbox, "dovecot") as client:
        put(client, "Sent", msg)  # the client's own Sent copy, as Thunderbird files it

    def logged() -> bool:
        assert cli("sync", "--json").code == 0
        return why(cli, mid)["logged"]

    wait_for(logged, timeout=30, interval=1)
    said = why(cli, mid)
    assert said["rule"] == "log-address" and "alice+crm" in said["explanation"]
    threads = cli("threads", "--json").json()
    assert sum(1 for t in threads["threads"] for m in t["messages"] if m["message_id"] == mid) == 1
    contacts = {c["address"] for c in cli("contacts", "--json").json()["contacts"]}
    assert "gus@g.test" in contacts and PLUS not in contacts


def test_a_server_that_keeps_no_new_keywords_reports_the_keyword_way_unavailable(cli, sandbox):
    main = sandbox.main
    proxy = ImapProxy(main.ports.imaps, main.cert, main.key, sandbox.ca.cert_path)
    try:
        proxy.no_new_keywords = True
        args = connect_args(sandbox, "alice")
        args[args.index("--imap-port") + 1] = str(proxy.port)
        result = cli(*args, input="alice-sandbox-pw\n")
        assert result.code == 0, result.stderr
        assert "$CRM is unavailable" in result.stdout
        doctor = cli("doctor", "--json")
        checks = {c["id"]: c for c in doctor.json()["accounts"][0]["checks"]}
        assert checks["client-ways"]["status"] == "warn"
        assert "cannot be set" in checks["client-ways"]["evidence"]
    finally:
        proxy.close()
