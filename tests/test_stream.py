"""Reading a large message as a stream: header, the text part, attachments counted."""

import io

from hubsync.mail.stream import read_text_only


def message(body: bytes, content_type: bytes) -> bytes:
    return (
        b"From: a@b.test\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: "
        + content_type
        + b"\r\n\r\n"
        + body
    )


NESTED = message(
    b'preamble\r\n--o\r\nContent-Type: multipart/alternative; boundary="o-i"\r\n\r\n'
    b"--o-i\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>\r\n"
    b"--o-i\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\nHi =E9\r\n--o-i--\r\n"
    b"--o\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment\r\n\r\nJVBE\r\n"
    b"--o\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n"
    b"\r\nnot the body\r\n--o--\r\nepilogue\r\n",
    b'multipart/mixed; boundary="o"',
)


def test_nested_parts_give_the_plain_text_and_count_the_attachments():
    found = read_text_only(io.BytesIO(NESTED))
    assert found.header.startswith(b"From: a@b.test")
    assert (found.text, found.subtype, found.encoding, found.charset) == (
        b"Hi =E9\r\n",
        "plain",
        "quoted-printable",
        "iso-8859-1",
    )
    assert found.attachments == 2, "a boundary that starts like another is not confused"


def test_a_single_part_message_and_one_without_text():
    plain = read_text_only(io.BytesIO(message(b"just text\r\n", b"text/plain")))
    assert (plain.text, plain.subtype, plain.attachments) == (b"just text\r\n", "plain", 0)
    pdf = read_text_only(io.BytesIO(message(b"JVBE\r\n", b"application/pdf")))
    assert (pdf.text, pdf.subtype) == (b"", "")


def test_an_unterminated_multipart_ends_cleanly():
    cut = NESTED[: NESTED.index(b"--o-i--")]
    found = read_text_only(io.BytesIO(cut))
    assert found.subtype == "plain" and found.text.startswith(b"Hi")
