"""Pipelined header scans on the real servers: Dovecot runs pipelined FETCHes side by side
and interleaves their answers, Cyrus and Courier answer one after the other. Whatever each
does, a sync in small ranges (the next range's FETCH sent before the current one ends) logs
exactly the replies a one-range-at-a-time reading finds: chains of replies running across
range boundaries, some without a Message-ID of their own."""

import ssl
import uuid

import imapclient
import pytest

from hubsync import config as cfg
from hubsync.logbook import log_manual
from hubsync.sync import engine
from hubsync.sync.mailbox import ImapMailbox

ALICE = "alice@example.test"
COUNT = 48


def folder_messages(run: str) -> tuple[bytes, list[bytes], set[int]]:
    """The tracked root, the folder's messages, and the numbers (in their subjects) of those
    a sync must log: a reply counts when its parent is the root or a logged reply before it
    (UID order)."""

    def mid(i: int) -> str:
        return f"<p{i}-{run}@customer.test>"

    root = (f"From: {ALICE}\r\nTo: bob@customer.test\r\nSubject: Quote\r\n"
            f"Message-ID: {mid(0)}\r\n\r\nHere is the quote.\r\n").encode()  # fmt: skip
    known, expected, raws = {mid(0)}, set(), []
    for i in range(1, COUNT + 1):
        parent = mid(i - 1) if i % 5 else mid(i - 2)  # chains, with a skip now and then
        own = mid(i) if i % 7 else None  # every 7th has no Message-ID
        lines = ["From: Bob <bob@customer.test>", f"To: {ALICE}", f"Subject: Re: Quote {i}"]
        if own:
            lines.append(f"Message-ID: {own}")
        if i % 4:  # every 4th is unrelated mail
            lines += [f"In-Reply-To: {parent}", f"References: {parent}"]
            if parent in known:
                expected.add(i)
                if own:
                    known.add(own)
        raws.append(("\r\n".join(lines) + f"\r\n\r\nMessage {i}.\r\n").encode())
    return root, raws, expected


@pytest.mark.parametrize("server", ["dovecot", "cyrus", "courier"])
def test_a_sync_in_pipelined_ranges_logs_exactly_the_replies(sandbox, store, server):
    run = uuid.uuid4().hex[:8]
    folder = f"INBOX.pipe{run}" if server == "courier" else f"pipe{run}"
    root, raws, expected = folder_messages(run)
    context = ssl.create_default_context(cafile=str(sandbox.ca.cert_path))
    client = imapclient.IMAPClient(
        "localhost", sandbox.imap_port(server), ssl_context=context, timeout=30
    )
    try:
        client.login(ALICE, sandbox.users[ALICE].password)
        client.create_folder(folder)
        for raw in raws:
            client.append(folder, raw)
        log_manual(store, "a", root, (ALICE,))
        account = cfg.Account("a", ALICE, ALICE, "localhost", 993, sent_folder="Sent")
        box = ImapMailbox(client)
        report = engine.sync_mailbox(box, store, account, [folder], batch=4)
        assert box._scans is not None and box._scans.pipelined > 0  # it did pipeline
        # the connection is left clean: imapclient can use it as before
        assert client.noop()[0] is not None
        assert client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"] == COUNT
    finally:
        try:
            client.select_folder("INBOX")  # Courier deletes no folder that is open
            client.delete_folder(folder)
        finally:
            client.logout()
    stats = report.folders[0]
    assert stats.scanned == COUNT
    logged = {int(m.subject.rsplit(" ", 1)[-1]) for m in report.messages}
    assert logged == expected
    assert stats.logged == len(expected)
