"""Reading a raw message into what the log keeps: headers, addresses, dates, body text and
attachments, and telling mail from other text (in-process, byte fixtures)."""

import hashlib
import sys

import pytest

from hubsync.errors import MessageError, UsageError
from hubsync.mail import parse

MAIL = (
    b"From: Bob Buyer <Bob@Customer.test>\r\n"
    b"To: Alice <alice@example.test>, carol@partner.test\r\n"
    b"Cc: =?utf-8?q?Dan_=C3=98?= <dan@partner.test>, undisclosed-recipients:;\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9?= order\r\n"
    b"Date: Mon, 02 Nov 2026 10:00:00 +0100\r\n"
    b"Message-ID: <m1@customer.test>\r\n"
    b"In-Reply-To: <root@example.test>\r\n"
    b"References: <root@example.test>\r\n <mid@example.test>\r\n"
    b"\r\n"
    b"Hello\r\n"
)


def test_every_field_the_log_keeps_is_read():
    p = parse.parse(MAIL)
    assert (p.message_id, p.in_reply_to) == ("<m1@customer.test>", "<root@example.test>")
    assert p.references == ["<root@example.test>", "<mid@example.test>"]
    assert (p.from_name, p.from_addr) == ("Bob Buyer", "bob@customer.test")
    assert p.to == [("Alice", "alice@example.test"), ("", "carol@partner.test")]
    assert p.cc == [("Dan Ø", "dan@partner.test")]  # the empty group has no address
    assert p.subject == "Café order"
    assert p.date == "2026-11-02T10:00:00+01:00"
    assert p.body == "Hello"
    assert p.synthetic_id is False and p.body_note == ""


def test_missing_headers_are_empty_not_made_up():
    p = parse.parse(b"From: a@b.test\r\nMessage-ID: <x@b.test>\r\n\r\n")
    assert (p.subject, p.date, p.in_reply_to, p.references) == ("", "", "", [])
    assert (p.to, p.cc, p.body) == ([], [], "")
    nobody = parse.parse(b"To: c@d.test\r\nMessage-ID: <y@b.test>\r\n\r\nhi")
    assert (nobody.from_name, nobody.from_addr) == ("", "")


@pytest.mark.parametrize("value", ["", "garbage", "Mon, 99 Foo 2026 xx:yy"])
def test_an_unreadable_date_is_empty(value):
    assert parse.iso_date(value) == ""


def test_a_message_without_an_id_gets_a_stand_in_from_its_bytes():
    accept = b"From: a@b.test\r\nSubject: Offer\r\n\r\nI accept\r\n"
    cancel = b"From: a@b.test\r\nSubject: Offer\r\n\r\nI cancel\r\n"
    first, second = parse.parse(accept), parse.parse(cancel)
    assert first.synthetic_id and second.synthetic_id
    assert first.message_id != second.message_id
    assert parse.parse(accept).message_id == first.message_id  # stable across runs
    # the stand-in is stored: its form must not change between versions
    digest = hashlib.sha256(accept).hexdigest()[:32]
    assert first.message_id == f"<sha256-{digest}@hubsync.invalid>"


@pytest.mark.parametrize(
    "preamble",
    [
        b"\xef\xbb\xbf",
        b"\r\n\r\n",
        b"\n",
        b" \t",
        b"From bob@customer.test Mon Nov  2 10:00:00 2026\n",
    ],
)
def test_what_tools_put_before_the_header_is_skipped(preamble):
    p = parse.parse(preamble + MAIL)
    assert p.from_addr == "bob@customer.test" and p.message_id == "<m1@customer.test>"
    assert p.subject == "Café order"


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@b.test\n\nonly a sender",
        b"Message-ID: <a@b>\n\nonly an id",
        b"Subject: s\nTo: c@d.test\n\n",
        b"Date: Mon, 02 Nov 2026 10:00:00 +0000\nTo: c@d.test\n\n",
        b"Subject: s\nReceived: from x by y\n\n",
        b"Subject: s\nMessage-ID: <a@b>\n\n",
        b"Message-ID: <a@b>\nTo: c@d.test\n\n",
    ],
)
def test_a_header_block_of_mail_is_accepted(raw):
    assert parse.looks_like_mail(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: a notes file\n\njust notes",
        b"To: c@d.test\n\n",
        b"Received: from x\n\n",
        b"Date: today\nX-Tag: y\n\n",
        b"Subject\nTo\n\nwords that merely look like names",
        b"X-Note: a\n From: folded into X-Note\n\n",
        b"X-Note: a\n\nFrom: a@b.test\nTo: c@d.test\n\nin the body",
        b"X-Note: a\r\n\r\nFrom: a@b.test\r\nTo: c@d.test\r\n\r\nin the body",
        b"",
    ],
)
def test_text_that_is_not_mail_is_recognised(raw):
    assert not parse.looks_like_mail(raw)


def test_not_mail_is_refused_with_a_fix():
    with pytest.raises(MessageError) as refused:
        parse.parse(b"Subject: shopping list\n\neggs")
    assert refused.value.message == (
        "This is not a mail message (no From, Date, Subject or Message-ID header found)."
    )
    assert refused.value.fix == "Give an .eml file (RFC 5322 message)."


def test_message_ids_are_found_in_junk_and_in_8bit_bytes():
    assert parse.message_ids("junk <a@b> <c@d>x") == ["<a@b>", "<c@d>"]
    assert parse.message_ids(None) == [] and parse.message_ids("") == []
    assert parse.message_ids(b"<caf\xe9@b>") == ["<caf\ufffd@b>"]
    assert parse.message_ids("<caf\udce9@b>") == ["<caf?@b>"]  # a raw byte from a header
    p = parse.parse(b"From: a@b.test\r\nMessage-ID: <caf\xe9@b.test>\r\n\r\n")
    assert p.message_id == "<caf\ufffd@b.test>"


@pytest.mark.parametrize(
    "typed, stored",
    [("<a@b>", "<a@b>"), (" a@b ", "<a@b>"), ("< aXb@c >", "<aXb@c>"), ("X@Y", "<X@Y>")],
)
def test_a_typed_message_id_is_normalised(typed, stored):
    assert parse.normalize_message_id(typed) == stored


@pytest.mark.parametrize("typed", ["", "<>", "<abc@x", "abc@x>", "a b@c", "<a<b@c>"])
def test_a_typed_non_message_id_is_refused_with_an_example(typed):
    with pytest.raises(UsageError) as refused:
        parse.normalize_message_id(typed)
    assert refused.value.message == f"{typed.strip()!r} is not a Message-ID."
    assert refused.value.fix == (
        "Give it as shown by `hubsync threads` or your mail client, e.g. "
        "<1234.5678@example.com> (the angle brackets may be left out)."
    )
    assert refused.value.reason == "bad-message-id"


def multipart(parts: list[bytes], boundary: bytes = b"b0") -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return (
        b"From: a@b.test\r\nMessage-ID: <mp@b.test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="'
        + boundary
        + b'"\r\n\r\n'
        + body
        + b"--"
        + boundary
        + b"--\r\n"
    )


ATTACHMENT = (
    b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=q.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
)


def test_an_attachment_after_a_part_without_bytes_is_still_read():
    inner = (
        b'Content-Type: multipart/mixed; boundary="in"\r\nContent-Disposition: attachment\r\n\r\n'
        b"--in\r\nContent-Type: text/plain\r\n\r\nx\r\n--in--"
    )
    p = parse.parse(multipart([b"Content-Type: text/plain\r\n\r\nsee attached", inner, ATTACHMENT]))
    assert p.body == "see attached"
    assert [(a.filename, a.mime_type, a.data) for a in p.attachments] == [
        ("q.pdf", "application/pdf", b"%PDF-")
    ]


def test_a_message_with_only_an_attachment_has_an_empty_body():
    p = parse.parse(multipart([ATTACHMENT]))
    assert p.body == "" and len(p.attachments) == 1


def test_text_in_an_unknown_charset_is_read_as_utf8_with_replacements():
    part = b"Content-Type: text/plain; charset=x-unknown-8\r\n\r\ncaf\xc3\xa9 \xff ok"
    assert parse.parse(multipart([part])).body == "caf\u00e9 \ufffd ok"


def test_html_only_mail_is_text_without_images_or_wrapping():
    html = (
        b"Content-Type: text/html\r\n\r\n<p>Dear Alice,<img src='cid:logo' alt='Logo'></p>"
        b"<p>" + b"word " * 40 + b"</p>"
    )
    body = parse.parse(multipart([html])).body
    assert body.startswith("Dear Alice,")
    assert "Logo" not in body and "cid:" not in body
    assert ("word " * 39 + "word") in body  # one line: not wrapped at 78 columns


def boundaries(n: int) -> bytes:
    """A message with ``n`` boundary parameters (nested multiparts)."""
    body = b"Content-Type: text/plain\r\n\r\ninner text\r\n"
    for i in range(n - 1):
        body = (
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
            + body
            + b"\r\n--b%d--\r\n" % i
        )
    return multipart([body], boundary=b"top")


def test_up_to_200_mime_parts_are_read_beyond_that_only_the_header():
    assert parse.parse(boundaries(200)).body == "inner text"
    wide = parse.parse(boundaries(201))
    assert wide.body == "" and wide.attachments == []
    assert wide.body_note == "not read: more than 200 nested MIME parts"
    assert wide.from_addr == "a@b.test"


def test_a_structure_too_deep_for_the_stack_keeps_the_header_and_says_why():
    depth = len(__import__("inspect").stack())
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 120)
    try:
        deep = parse.parse(boundaries(190))
    finally:
        sys.setrecursionlimit(limit)
    assert (deep.body, deep.attachments) == ("", [])
    assert deep.body_note == "not read: the MIME structure is nested too deeply"
    assert deep.message_id == "<mp@b.test>"
