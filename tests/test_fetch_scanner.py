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


# -- the edges a faster reader must match (mutation tests, #28) ------------------------------

HEAD = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"


def fetch(
    seq: int, uid: int, header: bytes, uid_after: bool = False, eol: bytes = b"\r\n"
) -> bytes:
    literal = b"{%d}" % len(header) + eol + header
    if uid_after:
        return b"* %d FETCH (%s %s UID %d)" % (seq, HEAD, literal, uid) + eol
    return b"* %d FETCH (UID %d %s %s)" % (seq, uid, HEAD, literal) + eol


def test_the_top_uid_counts_every_message_wanted_or_not():
    data = (CAPTURES / "dovecot.txt").read_bytes()
    _, scanner = scan(data, want=lambda header: False)
    assert scanner.top_uid == 3 and scanner.seen == 3
    after = fetch(1, 40, b"X: 1\r\n\r\n", uid_after=True) + fetch(2, 41, b"X: 2\r\n\r\n", True)
    found, scanner = scan(after + b"HSF OK\r\n", want=lambda header: False)
    assert (found, scanner.top_uid) == ([], 41)
    nil = b"* 9 FETCH (UID 77 %s NIL)\r\nHSF OK\r\n" % HEAD
    assert scan(nil, want=lambda header: False)[1].top_uid == 77


def test_the_top_uid_is_the_highest_over_every_feed_never_lower():
    scanner = FetchScanner(b"HSF", want=lambda header: False)
    scanner.feed(fetch(1, 9, b"A: 1\r\n\r\n"))
    scanner.feed(fetch(2, 5, b"A: 2\r\n\r\n"))  # a server out of order
    assert scanner.top_uid == 9
    scanner.feed(fetch(3, 12, b"A: 3\r\n\r\n") + b"HSF OK\r\n")
    assert scanner.top_uid == 12 and scanner.done


def test_lines_ending_in_a_bare_newline_are_read_too():
    data = fetch(1, 3, b"X: a\n\n", eol=b"\n") + fetch(2, 4, b"X: b\n\n", True, eol=b"\n")
    found, scanner = scan(data + b"HSF OK\n")
    assert found == [(3, b"X: a\n\n"), (4, b"X: b\n\n")] and scanner.done


def test_the_literal_plus_form_is_accepted():
    data = b"* 1 FETCH (UID 5 %s {4+}\r\nX: y)\r\nHSF OK\r\n" % HEAD
    assert scan(data)[0] == [(5, b"X: y")]


def test_a_response_with_several_literals_takes_the_one_after_the_header_key():
    data = (
        b"* 1 FETCH (UID 6 BODY[TEXT] {2}\r\nxy " + HEAD + b" {5}\r\nX: ab)\r\n"
        b"* 2 FETCH (" + HEAD + b" {5}\r\nX: cd BODY[TEXT] {3}\r\nxyz UID 7)\r\n"
        b"* 3 FETCH (BODY[TEXT] {1}\r\nq BODY[1] {1}\r\nr UID 8)\r\n"
        b"HSF OK\r\n"
    )
    for cut in range(1, len(data)):
        found, scanner = scan(data, [cut])
        assert found == [(6, b"X: ab"), (7, b"X: cd")], cut
        assert scanner.seen == 2 and scanner.top_uid == 7 and scanner.done
    _, unwanted = scan(data, want=lambda header: False)
    assert unwanted.top_uid == 7


def test_several_literals_with_a_bad_or_oversized_one_are_refused():
    bad = b"* 1 FETCH (UID 6 BODY[TEXT] {2}\r\nxy " + HEAD + b" {5x}\r\nX: ab)\r\n"
    with pytest.raises(ProtocolFailure) as caught:
        scan(bad)
    assert caught.value.reason == "imap-malformed"
    big = b"* 1 FETCH (UID 6 BODY[TEXT] {2}\r\nxy " + HEAD + b" {5000}\r\n"
    with pytest.raises(ProtocolFailure) as caught:
        scan(big, max_literal=4999)
    assert caught.value.reason == "imap-response-too-large"
    assert "5,000 bytes announced" in caught.value.message


def test_a_single_literal_that_is_not_the_header_is_skipped_and_not_counted():
    data = b"* 1 FETCH (UID 6 BODY[TEXT] {2}\r\nxy)\r\n" + fetch(2, 7, b"X: 1\r\n") + b"HSF OK\r\n"
    found, scanner = scan(data)
    assert found == [(7, b"X: 1\r\n")] and scanner.seen == 1


def test_a_line_of_exactly_the_budget_passes_and_one_byte_more_does_not():
    line = b"* OK " + b"x" * 10 + b"\r"  # 16 bytes before the newline
    found, scanner = scan(line + b"\nHSF OK\r\n", max_line=16)
    assert scanner.done
    with pytest.raises(ProtocolFailure) as caught:
        scan(b"* OK x" + line + b"\nHSF OK\r\n", max_line=16)
    assert "longer than 16 bytes" in caught.value.message
    waiting = FetchScanner(b"HSF", max_line=16)
    assert waiting.feed(b"* OK " + b"x" * 11) == []  # 16 bytes, no newline yet: waits
    with pytest.raises(ProtocolFailure):
        waiting.feed(b"x")


def test_a_literal_of_exactly_the_budget_passes_and_one_byte_more_does_not():
    found, _ = scan(fetch(1, 2, b"X" * 100) + b"HSF OK\r\n", max_literal=100)
    assert found == [(2, b"X" * 100)]
    with pytest.raises(ProtocolFailure) as caught:
        scan(fetch(1, 2, b"X" * 101) + b"HSF OK\r\n", max_literal=100)
    assert "(101 bytes announced)" in caught.value.message
    assert caught.value.fix.startswith("Tell the server's administrator")


def test_the_text_after_a_literal_is_held_to_the_line_budget():
    scanner = FetchScanner(b"HSF", max_line=50)
    with pytest.raises(ProtocolFailure):
        scanner.feed(b"* 1 FETCH (UID 1 %s {2}\r\nab" % HEAD + b" x" * 40)


def test_a_finished_scanner_ignores_what_comes_after():
    scanner = FetchScanner(b"HSF")
    assert scanner.feed(b"HSF OK done\r\n") == [] and scanner.done
    assert scanner.feed(b"HSF NO late\r\n" + fetch(1, 5, b"X: y\r\n")) == []
    assert scanner.top_uid == 0


def test_only_our_own_tag_ends_the_response_and_a_refusal_quotes_the_server():
    data = b"HSFX OK not ours\r\n" + fetch(1, 5, b"X: y\r\n") + b"HSF OK\r\n"
    assert scan(data)[0] == [(5, b"X: y\r\n")]
    with pytest.raises(ProtocolFailure) as caught:
        scan(b"HSF NO [LIMIT] too many\r\n")
    assert caught.value.message == "UID FETCH failed: HSF NO [LIMIT] too many"
    with pytest.raises(ProtocolFailure):
        scan(b"HSF \r\n")  # our tag with no status is not an OK


def test_a_nil_header_outside_a_fetch_or_without_a_uid_is_not_a_message():
    data = b"* OK " + HEAD + b" NIL\r\n* 1 FETCH (" + HEAD + b" NIL)\r\nHSF OK\r\n"
    found, scanner = scan(data)
    assert found == [] and scanner.seen == 1 and scanner.top_uid == 0
    wanted_empty = scan(b"* 1 FETCH (UID 4 %s NIL)\r\nHSF OK\r\n" % HEAD, want=lambda h: h == b"")
    assert wanted_empty[0] == [(4, b"")]


def test_a_malformed_literal_is_quoted_in_the_error():
    with pytest.raises(ProtocolFailure) as caught:
        scan(b"* 1 FETCH (UID 1 %s {1a2}\r\nabc)\r\n" % HEAD)
    assert caught.value.message.endswith("{1a2}")
    with pytest.raises(ProtocolFailure):
        scan(b"* 1 FETCH (UID 1 {oops} junk}\r\nHSF OK\r\n")


def _refusal(data: bytes, **limits) -> ProtocolFailure:
    with pytest.raises(ProtocolFailure) as caught:
        scan(data, **limits)
    return caught.value


def test_every_refusal_says_exactly_what_the_server_did():
    over_line = "The IMAP server sent a line longer than 16 bytes while hubsync read header fields; it was not read into memory."
    assert _refusal(b"* OK " + b"x" * 20 + b"\r\n", max_line=16).message == over_line
    assert _refusal(b"* OK " + b"x" * 20, max_line=16).message == over_line  # no newline yet
    after = b"* 1 FETCH (UID 1 %s {2}\r\nab" % HEAD + b"x" * 30
    assert _refusal(after, max_line=16).message == over_line  # after a literal, no newline
    literal = _refusal(fetch(1, 2, b"X" * 101), max_literal=100)
    assert literal.message == (
        "The IMAP server sent a literal longer than 100 bytes (101 bytes announced) while "
        "hubsync read header fields; it was not read into memory."
    )
    assert literal.reason == "imap-response-too-large"
    several = b"* 1 FETCH (UID 6 BODY[TEXT] {2}\r\nxy " + HEAD + b" {101}\r\n"
    assert _refusal(several, max_literal=100).message == literal.message
    bad = b"* 1 FETCH (UID 6 BODY[TEXT] {2}\r\nxy " + HEAD + b" {5x}\r\nX: ab)\r\n"
    assert _refusal(bad).message == "The IMAP server sent a malformed literal."
    quoted = _refusal(b"* 1 FETCH (UID 1 %s {1\xff2}\r\nabc)\r\n" % HEAD)
    assert quoted.message == "The IMAP server sent a malformed literal: {1\ufffd2}"
    refused = _refusal(b"HSF NO caf\xc3\xa9 \xff down  \r\n")
    assert refused.message == "UID FETCH failed: HSF NO caf\u00e9 \ufffd down"
    assert _refusal(b"HSF no\r\n").reason == "fetch-failed"
    ok_with_text = scan(b"HSF OK [READ-ONLY] fine by me\r\n")[1]
    assert ok_with_text.done


def test_a_literal_that_ends_exactly_at_the_buffer_waits_for_its_closing_line():
    scanner = FetchScanner(b"HSF")
    data = fetch(1, 3, b"X: 1\r\n")
    head, tail = data[: data.index(b"X: 1") + 6], data[data.index(b"X: 1") + 6 :]
    assert scanner.feed(head) == []  # the literal is complete, its ")\r\n" is not
    assert scanner.feed(tail + b"HSF OK\r\n") == [(3, b"X: 1\r\n")]


def test_the_header_key_is_only_what_precedes_this_literal():
    data = (
        b"* 1 FETCH (UID 1 " + HEAD + b" {4}\r\nA: 1)\r\n"
        b"* 2 FETCH (UID 2 BODY[TEXT] {4}\r\nB: 2)\r\n"
        b"HSF OK\r\n"
    )
    found, scanner = scan(data)
    assert found == [(1, b"A: 1")] and scanner.seen == 1


def test_the_uid_is_read_only_from_its_own_message():
    data = (
        b"* 1 FETCH (" + HEAD + b" {4}\r\nA: 1 UID 5)\r\n"
        b"* 2 FETCH (" + HEAD + b" {4}\r\nB: 2)\r\n"  # no UID at all: not returned
        b"* 3 FETCH (UID 9 " + HEAD + b" {4}\r\nC: 3)\r\n"
        b"HSF OK\r\n"
    )
    found, scanner = scan(data)
    assert found == [(5, b"A: 1"), (9, b"C: 3")] and scanner.seen == 3


def test_an_empty_or_missing_header_value_is_empty_bytes():
    key = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
    assert header_fields_value({key: None}) == b""
    assert header_fields_value({key: b""}) == b""
    assert header_fields_value({}) == b""


def test_a_new_scanner_is_not_done_and_has_nothing_carried_over():
    scanner = FetchScanner(b"HSF")
    assert scanner.done is False and scanner.seen == 0 and scanner.top_uid == 0
    assert scanner.feed(b"") == [] and scanner.done is False
    assert scanner.feed(fetch(1, 2, b"X: 1\r\n")[:10]) == []
    assert scanner.feed(fetch(1, 2, b"X: 1\r\n")[10:] + b"HSF OK\r\n") == [(2, b"X: 1\r\n")]


def test_a_leading_empty_line_is_skipped_not_waited_on():
    assert scan(b"\nHSF OK\r\n")[1].done


def test_the_text_after_a_literal_is_budgeted_from_the_literal_s_end():
    line = b"* 1 FETCH (UID 1 %s {2}\r\n" % HEAD  # 53 bytes: within a 60-byte budget
    waiting = FetchScanner(b"HSF", max_line=60)
    assert waiting.feed(line + b"ab" + b"x" * 60) == []  # 60 bytes after it: still a line
    with pytest.raises(ProtocolFailure) as caught:
        waiting.feed(b"x")
    assert caught.value.message.startswith("The IMAP server sent a line longer than 60 bytes")
    later = FetchScanner(b"HSF", max_line=60)
    first = fetch(1, 2, b"X: 1\r\n")
    assert later.feed(first + b"* OK abc") == [(2, b"X: 1\r\n")]  # a short partial line waits


def test_garbage_and_a_stray_brace_never_swallow_the_next_message():
    for eol in (b"\r\n", b"\n"):
        data = b"* garbage}" + eol + fetch(1, 4, b"X: 1" + eol, eol=eol) + b"HSF OK" + eol
        assert scan(data)[0] == [(4, b"X: 1" + eol)], eol
    earlier = fetch(1, 4, b"X: 1\r\n") + b"* no brace here}\r\n" + fetch(2, 5, b"X: 2\r\n")
    assert scan(earlier + b"HSF OK\r\n")[0] == [(4, b"X: 1\r\n"), (5, b"X: 2\r\n")]
    with pytest.raises(ProtocolFailure):
        scan(b"* 1 FETCH (UID 1 %s {4X}\r\nX: 1)\r\n" % HEAD)  # only "+" may follow digits


def test_a_uid_is_never_read_from_inside_a_literal_or_from_the_tagged_line():
    data = b"* 1 FETCH (%s {12}\r\nX-Y: UID 777 UID 5)\r\nHSF OK UID 12345 ok\r\n" % HEAD
    found, scanner = scan(data, want=lambda h: False)
    assert scanner.top_uid == 5
    bare = b"* 1 FETCH (%s {4}\r\nX: 1)\r\nHSF OK UID 12345 ok\r\n" % HEAD
    assert scan(bare, want=lambda h: False)[1].top_uid == 0


def test_several_literals_without_a_uid_or_with_a_choosy_want():
    nouid = b"* 1 FETCH (BODY[TEXT] {2}\r\nxy " + HEAD + b" {4}\r\nX: 1)\r\nHSF OK\r\n"
    found, scanner = scan(nouid)
    assert found == [] and scanner.seen == 1 and scanner.done
    data = (
        b"* 1 FETCH (UID 6 BODY[TEXT] {2}\r\nxy " + HEAD + b" {5}\r\nX: ab)\r\n"
        b"* 2 FETCH (UID 7 BODY[TEXT] {2}\r\nxy " + HEAD + b" {5}\r\nX: cd)\r\n"
        b"HSF OK\r\n"
    )
    assert scan(data, want=lambda h: b"cd" in h)[0] == [(7, b"X: cd")]
    exact = b"* 1 FETCH (UID 6 BODY[TEXT] {2}\r\nxy " + HEAD + b" {10}\r\n0123456789)\r\nHSF OK\r\n"
    assert scan(exact, max_literal=10)[0] == [(6, b"0123456789")]
