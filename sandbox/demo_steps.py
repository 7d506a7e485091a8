"""The sandbox demo's steps after probing: each takes (sandbox, env)."""

from sandbox.demo import step


def connect(box, env) -> None:
    step(
        "Connect alice's inbox (discovery through DNS SRV, password into gnome-keyring)",
        "connect",
        "alice@example.test",
        "--account",
        "alice",
        "--name",
        "Alice Seller",
        "--cafile",
        str(box.ca.cert_path),
        "--password-stdin",
        "--yes",
        env=env,
        input=box.users["alice@example.test"].password + "\n",
    )
    step("Accounts", "accounts", "list", env=env)


def send(box, env) -> None:
    step(
        "Send Bob a quote (submitted once; one copy filed in Sent)",
        "send",
        "--to",
        "Bob Buyer <bob@customer.test>",
        "--subject",
        "Your quote",
        "--body",
        "Hi Bob,\n\nthe quote is attached.\n\nAlice",
        "--attach",
        str(box.ca.cert_path),
        env=env,
    )
    step("Outbox (nothing owed)", "outbox", env=env)


def reply_and_sync(box, env) -> None:
    """Bob answers over his own SMTP session; hubsync logs the reply."""
    import json
    import smtplib
    import ssl
    import subprocess
    import sys
    import time
    from email.message import EmailMessage

    listing = subprocess.run(
        [sys.executable, "-m", "hubsync", "threads", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    quote = json.loads(listing.stdout)["threads"][0]["messages"][0]["message_id"]
    msg = EmailMessage()
    msg["From"] = "Bob Buyer <bob@customer.test>"
    msg["To"] = "alice@example.test"
    msg["Subject"] = "Re: Your quote"
    msg["Message-ID"] = f"<demo-reply-{time.time_ns()}@customer.test>"
    msg["In-Reply-To"] = quote
    msg["References"] = quote
    msg.set_content("Thanks Alice, signed copy attached.\n\nBob")
    msg.add_attachment(
        b"%PDF-1.4 signed", maintype="application", subtype="pdf", filename="signed.pdf"
    )
    print("\n== Bob replies from his own mail client (SMTP submission through Postfix)")
    ctx = ssl.create_default_context(cafile=str(box.ca.cert_path))
    with smtplib.SMTP("localhost", box.postfix.submission_port, timeout=30) as smtp:
        smtp.starttls(context=ctx)
        smtp.login("bob@customer.test", box.users["bob@customer.test"].password)
        smtp.send_message(msg)
    _wait_delivered(box, "alice@example.test", msg["Message-ID"])
    step("Sync: log the reply (nothing else is stored)", "sync", env=env)
    step("Threads", "threads", env=env)
    step("Logging report", "report", env=env)
    step("Bob's contact record", "contacts", "bob@customer.test", env=env)


def _wait_delivered(box, address: str, message_id: str, timeout: float = 30.0) -> None:
    """Postfix delivers asynchronously: poll the mailbox (bounded) instead of sleeping."""
    import imaplib
    import ssl
    import time

    context = ssl.create_default_context(cafile=str(box.ca.cert_path))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = imaplib.IMAP4_SSL("localhost", box.main.ports.imaps, ssl_context=context)
        conn.login(address, box.users[address].password)
        conn.select("INBOX", readonly=True)
        found = conn.uid("SEARCH", "HEADER", "Message-ID", message_id)[1][0]
        conn.logout()
        if found:
            return
        time.sleep(0.2)
    raise SystemExit(f"demo: the reply did not arrive within {timeout:g}s")


def doctor(box, env) -> None:
    step("Doctor: every check of the connection, the history and the store", "doctor", env=env)


STEPS = [connect, send, reply_and_sync, doctor]
