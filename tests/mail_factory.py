"""Small raw messages for in-process tests."""

from email.message import EmailMessage
from email.policy import SMTP


def make(
    mid: str,
    sender: str = "Bob Buyer <bob@customer.test>",
    to: str = "Alice Seller <alice@example.test>",
    subject: str = "Quote",
    irt: str | None = None,
    refs: str | None = None,
    date: str = "Mon, 02 Nov 2026 10:00:00 +0000",
    body: str = "Hello",
    cc: str | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = mid
    if irt:
        msg["In-Reply-To"] = irt
    if refs:
        msg["References"] = refs
    msg.set_content(body)
    if attachment:
        name, data = attachment
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg.as_bytes()
