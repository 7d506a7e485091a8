"""Play the other side: send mail as one sandbox user to another over a real SMTP session.

``scripts/sandbox reply --from bob --to alice --in-reply-to '<id>'`` (the demo uses the same
code): the message goes through Postfix's submission port with the sender's own login, so it
arrives as a contact's reply would, and this waits (bounded) until it is in the mailbox.
"""

import argparse
import imaplib
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate


def user_address(described: dict, who: str) -> dict:
    """The sandbox user named by a short name ("bob") or a whole address."""
    for user in described["users"]:
        if who in (user["address"], user["address"].split("@")[0]):
            return user
    known = ", ".join(u["address"].split("@")[0] for u in described["users"])
    raise SystemExit(f"sandbox: no user {who!r} (known: {known})")


def compose(
    sender: dict,
    recipient: dict,
    *,
    subject: str,
    body: str,
    in_reply_to: str = "",
    date: str = "",
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{sender['name']} <{sender['address']}>"
    msg["To"] = f"{recipient['name']} <{recipient['address']}>"
    msg["Subject"] = subject
    msg["Date"] = date or formatdate(localtime=True)
    msg["Message-ID"] = f"<sandbox-{time.time_ns()}@{sender['address'].split('@')[1]}>"
    if in_reply_to:
        reference = in_reply_to if in_reply_to.startswith("<") else f"<{in_reply_to}>"
        msg["In-Reply-To"] = reference
        msg["References"] = reference
    msg.set_content(body)
    if attachment:
        name, data = attachment
        kind = "pdf" if name.endswith(".pdf") else "octet-stream"
        msg.add_attachment(data, maintype="application", subtype=kind, filename=name)
    return msg


def submit(described: dict, sender: dict, msg: EmailMessage) -> None:
    """Over the submission port with STARTTLS and the sender's own password."""
    context = ssl.create_default_context(cafile=described["cafile"])
    port = described["smtp"]["submission_starttls"]
    with smtplib.SMTP("localhost", port, timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.login(sender["address"], sender["password"])
        smtp.send_message(msg)


def wait_delivered(described: dict, user: dict, message_id: str, timeout: float = 30.0) -> None:
    """Postfix delivers asynchronously: poll the mailbox (bounded) instead of sleeping."""
    context = ssl.create_default_context(cafile=described["cafile"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = imaplib.IMAP4_SSL("localhost", described["main_imap"]["imaps"], ssl_context=context)
        conn.login(user["address"], user["password"])
        conn.select("INBOX", readonly=True)
        found = conn.uid("SEARCH", "HEADER", "Message-ID", message_id)[1][0]
        conn.logout()
        if found:
            return
        time.sleep(0.2)
    raise SystemExit(f"sandbox: the message did not arrive within {timeout:g}s")


def main(described: dict, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/sandbox reply",
        description="Send mail as one sandbox user to another (play the contact's side).",
    )
    parser.add_argument("--from", dest="sender", default="bob", help="sender (default bob)")
    parser.add_argument("--to", dest="recipient", default="alice", help="recipient (alice)")
    parser.add_argument("--in-reply-to", default="", help="Message-ID being answered")
    parser.add_argument("--subject", default="Re: your message")
    parser.add_argument("--body", default="Thanks, that works for us.")
    parser.add_argument("--date", default="", help="Date header (RFC 5322), default now")
    args = parser.parse_args(argv)
    sender = user_address(described, args.sender)
    recipient = user_address(described, args.recipient)
    msg = compose(
        sender,
        recipient,
        subject=args.subject,
        body=args.body,
        in_reply_to=args.in_reply_to,
        date=args.date,
    )
    submit(described, sender, msg)
    wait_delivered(described, recipient, msg["Message-ID"])
    print(f"delivered {msg['Message-ID']} from {sender['address']} to {recipient['address']}")
    return 0
