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
    import subprocess
    import sys

    from sandbox import reply

    listing = subprocess.run(
        [sys.executable, "-m", "hubsync", "threads", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    quote = json.loads(listing.stdout)["threads"][0]["messages"][0]["message_id"]
    described = box.describe()
    bob = reply.user_address(described, "bob")
    msg = reply.compose(
        bob,
        reply.user_address(described, "alice"),
        subject="Re: Your quote",
        body="Thanks Alice, signed copy attached.\n\nBob",
        in_reply_to=quote,
        attachment=("signed.pdf", b"%PDF-1.4 signed"),
    )
    print("\n== Bob replies from his own mail client (SMTP submission through Postfix)")
    print("   (by hand: scripts/sandbox reply --from bob --to alice --in-reply-to 'ID')")
    reply.submit(described, bob, msg)
    reply.wait_delivered(described, reply.user_address(described, "alice"), msg["Message-ID"])
    step("Sync: log the reply (nothing else is stored)", "sync", env=env)
    step("Threads", "threads", env=env)
    step("Logging report", "report", env=env)
    step("Bob's contact record", "contacts", "bob@customer.test", env=env)


def doctor(box, env) -> None:
    step("Doctor: every check of the connection, the history and the store", "doctor", env=env)


STEPS = [connect, send, reply_and_sync, doctor]
