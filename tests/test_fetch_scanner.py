"""The sans-I/O FETCH scanner on byte captures from Dovecot, Cyrus and Courier, on crafted
responses, and re-chunked at every boundary."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubsync.errors import ProtocolFailure
from hubsync.mail.fetch_scanner import FetchScanner, header_fields_value

CAPTURES = Path(__file__).parent / "fixtures" / "imap-captures"
SERVERS = ("dovecot", "cyrus", "courier")
EXPECTED = [
    (
        1,
        b"Message-ID: <r1@customer.test>\r\nIn-Reply-To: <q1@example.test>\r\n"
        b"References: <q0@example.test>\r\n <q1@example.test>\r\n\r\n",
    ),
    (2, b"\r\n"),
    (3, b"message-id: <lower@y.test>\r\n\r\n"),
]


def scan(data: bytes, chunks: list[int] | None = None, **options):
    scanner = FetchScanner(b"HSF", **options)
    found, pos = [], 0
    for size in chunks or [len(data)]:
        found += scanner.feed(data[pos : pos + size])
        pos += size
    found += scanner.feed(data[pos:])
    return found, scanner


@pytest.mark.parametrize("server", SERVERS)
def test_captures_from_every_server_give_the_same_records(server):
    found, scanner = scan((CAPTURES / f"{server}.txt").read_bytes())
    assert found == EXPECTED
    assert scanner.done and scanner.seen == 3


@pytest.mark.parametrize("server", SERVERS)
def test_a_literal_split_at_every_byte_boundary(server):
    data = (CAPTURES / f"{server}.txt").read_bytes()
    for cut in range(1, len(data)):
        assert scan(data, [cut])[0] == EXPECTED, cut


def test_uid_after_the_literal_nil_and_empty_literals_and_unsolicited_responses():
    data = (
        b"* 4 EXISTS\r\n"
        b"* 1 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] {21}\r\nMessage-ID: <a@b>\r\n\r\n UID 7)\r\n"
        b"* 2 FETCH (UID 8 BODY[HEADER.FIELDS (MESSAGE-ID)] NIL)\r\n"
        b"* 3 FETCH (UID 9 BODY[HEADER.FIELDS (MESSAGE-ID)] {0}\r\n)\r\n"
        b"* 3 FETCH (FLAGS (\\Seen))\r\n"
        b"* 1 EXPUNGE\r\n"
        b"HSF OK done\r\n"
    )
    found, scanner = scan(data)
    assert found == [(7, b"Message-ID: <a@b>\r\n\r\n"), (8, b""), (9, b"")]
    assert scanner.seen == 3


def test_lowercase_keys_and_items_in_another_order():
    data = (
        b"* 1 fetch (body[header.fields (message-id)] {10}\r\nX: <a@b>\r\n uid 3 flags ())\r\n"
        b"HSF ok\r\n"
    )
    assert scan(data)[0] == [(3, b"X: <a@b>\r\n")]


def test_only_wanted_headers_are_returned_but_every_message_is_counted():
    data = (CAPTURES / "dovecot.txt").read_bytes()
    found, scanner = scan(data, want=lambda header: b"<r1@" in header)
    assert [uid for uid, _ in found] == [1]
    assert scanner.seen == 3


def test_nothing_after_the_tagged_ok_is_read():
    data = b"HSF OK done\r\n* 1 FETCH (UID 5 BODY[HEADER.FIELDS (X)] {2}\r\n\r\n)\r\n"
    found, scanner = scan(data)
    assert found == [] and scanner.done


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"HSF NO [SERVERBUG] broken\r\n", "fetch-failed"),
        (b"HSF BAD parse error\r\n", "fetch-failed"),
        (b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (X)] {x1}\r\nabc\r\n)\r\n", "imap-malformed"),
        (b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (X)] {99999999}\r\n", "imap-response-too-large"),
    ],
)
def test_malformed_or_refused_responses_are_clear_protocol_errors(data, reason):
    with pytest.raises(ProtocolFailure) as caught:
        scan(data, max_literal=1000)
    assert caught.value.reason == reason


def test_an_endless_line_stops_at_the_line_budget():
    scanner = FetchScanner(b"HSF", max_line=1000)
    with pytest.raises(ProtocolFailure) as caught:
        for _ in range(100):
            scanner.feed(b"* OK " + b"x" * 100)
    assert caught.value.reason == "imap-response-too-large"


def test_garbage_lines_are_ignored_until_the_tag():
    found, scanner = scan(b"* garbage}\r\n* 12 junk\r\nHSF OK\r\n")
    assert found == [] and scanner.done


@settings(max_examples=200, deadline=None)
@given(
    server=st.sampled_from(SERVERS),
    cuts=st.lists(st.integers(1, 64), max_size=40),
)
def test_rechunking_any_capture_never_changes_the_result(server, cuts):
    data = (CAPTURES / f"{server}.txt").read_bytes()
    assert scan(data, cuts)[0] == EXPECTED


def test_the_header_item_is_found_however_the_server_spells_its_key():
    for key in (
        b"BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO)]",
        b'BODY[HEADER.FIELDS ("MESSAGE-ID" "IN-REPLY-TO")]',
        b"body[header.fields (message-id)]",
    ):
        assert header_fields_value({b"SEQ": 1, key: b"Message-ID: <a@b>\r\n"}) == (
            b"Message-ID: <a@b>\r\n"
        )
    assert header_fields_value({b"SEQ": 1, b"BODY[TEXT]": b"x"}) == b""
