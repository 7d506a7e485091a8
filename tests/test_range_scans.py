"""Pipelined header scans (``RangeScans``) against their oracle, one sans-I/O ``FetchScanner``
per range read one after the other: the same wanted messages in the same order, the same
counts, whatever a server does with two FETCHes in flight (it may interleave their answers
line by line, end the second first, slip in unsolicited responses, or refuse the second)."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hubsync.mail.fetch_scanner import FetchScanner
from hubsync.sync.fetch import RangeScans

ID = re.compile(rb"<[^<>\s]+>")


def judge(tracked: set[bytes]):
    """The sync's kind of ``want``: a header naming a known id passes, and its own id
    becomes known (so order matters: a reply judged before its parent is turned away)."""
    known = set(tracked)

    def want(header: bytes) -> bool:
        ids = ID.findall(header)
        if known.isdisjoint(ids):
            return False
        if header.startswith(b"Message-ID: "):
            known.add(ids[0])
        return True

    return want


def response_line(uid: int, header: bytes) -> bytes:
    return b"* %d FETCH (UID %d BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)] {%d}\r\n%s)\r\n" % (
        uid, uid, len(header), header,
    )  # fmt: skip


@st.composite
def folders(draw):
    """UIDs with gaps; each message with or without a Message-ID, some naming earlier ones."""
    count = draw(st.integers(1, 40))
    uids, uid = [], 0
    for _ in range(count):
        uid += draw(st.integers(1, 4))
        uids.append(uid)
    headers = {}
    for n, uid in enumerate(uids):
        own = b"Message-ID: <m%d@x>\r\n" % uid if draw(st.integers(0, 9)) else b""
        parent = b""
        if n and draw(st.booleans()):  # a reply: often to the message just before (chains)
            earlier = n - 1 if draw(st.booleans()) else draw(st.integers(0, n - 1))
            parent = b"In-Reply-To: <m%d@x>\r\n" % uids[earlier]
        headers[uid] = own + parent + b"\r\n"
    tracked = {b"<m%d@x>" % u for u in draw(st.lists(st.sampled_from(uids), max_size=3))}
    tracked.add(b"<m%d@x>" % uids[0])  # a thread from the start, so chains run across ranges
    return headers, tracked


class Server:
    """A reactive server: each FETCH sent becomes a queue of response lines; every read
    takes the next line of one of the commands in flight (chosen by the test), so answers
    interleave however the draw says; a server may refuse every command sent while another
    is in flight."""

    def __init__(self, headers: dict[int, bytes], draw, refuse_pipelined: bool) -> None:
        self.headers, self.draw, self.refuse_pipelined = headers, draw, refuse_pipelined
        self.queues: list[list[bytes]] = []
        self.rests: set[bytes] = set()
        self.sent = 0

    def send(self, line: bytes) -> None:
        tag, _, rest = line.partition(b" ")
        first, last = map(int, re.search(rb"UID FETCH (\d+):(\d+)", rest).groups())
        self.sent += 1
        if self.refuse_pipelined and any(self.queues):  # another one is still in flight
            self.queues.append([tag + b" BAD pipelining refused\r\n"])
            return
        lines = [response_line(u, h) for u, h in sorted(self.headers.items()) if first <= u <= last]
        self.queues.append([*lines, tag + b" OK done\r\n"])

    def read(self) -> bytes:
        """One to three lines (or the rest of one), each from a command in flight; the last
        may end mid-line."""
        out = b""
        for _ in range(self.draw(st.integers(1, 3))):
            live = [q for q in self.queues if q]
            if not live:
                break
            unfinished = [q for q in live if q[0] in self.rests]  # a line is never interleaved
            queue = unfinished[0] if unfinished else live[self.draw(st.integers(0, len(live) - 1))]
            piece = queue.pop(0)
            if piece in self.rests:  # the rest of a line a read ended in
                self.rests.discard(piece)
            elif self.draw(st.integers(0, 7)) == 0:
                piece = b"* 9 EXISTS\r\n" + piece  # unsolicited, between two lines
            cut = self.draw(st.integers(0, len(piece)))
            if cut and cut < len(piece):
                queue.insert(0, piece[cut:])
                self.rests.add(piece[cut:])
                out += piece[:cut]
                break
            out += piece
        assert out, "read with nothing in flight: the client would hang"
        return out


def oracle(headers, tracked, ranges):
    want = judge(tracked)
    results = []
    for first, last in ranges:
        scanner = FetchScanner(b"T", want)
        data = b"".join(
            response_line(u, h) for u, h in sorted(headers.items()) if first <= u <= last
        )
        found = scanner.feed(data + b"T OK done\r\n")
        results.append((found, scanner.seen, scanner.top_uid if scanner.seen else 0))
    return results


@settings(max_examples=120, deadline=None)
@given(folders(), st.integers(1, 12), st.integers(0, 20), st.booleans(), st.data())
def test_pipelined_scans_give_exactly_the_one_by_one_result(
    folder, batch, lead, refuse_pipelined, data
):
    headers, tracked = folder
    top = max(headers)
    ranges = [(f, min(f + batch - 1, top)) for f in range(1, top + 1, batch)]
    expected = oracle(headers, tracked, ranges)
    server = Server(headers, data.draw, refuse_pipelined)
    scans = RangeScans(server.send, server.read, lead=lead)
    scans.eager = data.draw(st.booleans())  # as on a slow link: the next goes out at once
    want = judge(tracked)
    for n, (first, last) in enumerate(ranges):
        ahead = ranges[n + 1] if n + 1 < len(ranges) else None
        got = scans.scan(first, last, want, ahead)
        found, seen, top_uid = expected[n]
        assert got.found == found
        assert got.tally.seen == seen
        assert (got.tally.top_uid if seen else 0) == top_uid
        if data.draw(st.booleans()):
            scans.settle()  # as before a sizes() or a SEARCH: nothing may be in flight after
            assert not any(server.queues), "a command was left unread"
    scans.settle()
    assert not any(server.queues)


def test_a_range_asked_out_of_turn_reads_the_one_ahead_away_first():
    headers = {u: b"Message-ID: <m%d@x>\r\n\r\n" % u for u in range(1, 21)}
    server_reads = []

    class Plain(Server):
        def read(self):
            live = [q for q in self.queues if q]
            out = live[0].pop(0)
            server_reads.append(out)
            return out

    server = Plain(headers, None, False)
    scans = RangeScans(server.send, server.read, lead=100)
    want = judge({b"<m3@x>", b"<m15@x>"})
    assert [u for u, _ in scans.scan(1, 10, want, (11, 20)).found] == [3]
    assert server.sent == 2  # the next range went out before this one ended
    assert [u for u, _ in scans.scan(15, 20, want).found] == [15]  # not the one asked ahead
    assert server.sent == 3 and not any(server.queues)


def test_refused_pipelined_commands_whose_answers_came_together_are_not_waited_for():
    """Two pipelined FETCHes refused in one read: the second refusal is already in hand when
    the first is handled, so nothing more is read for it (the client would wait forever)."""
    header = {u: b"Message-ID: <m%d@x>\r\n\r\n" % u for u in range(1, 7)}
    answers = [
        response_line(1, header[1]) + response_line(2, header[2]) + b"HSF1 OK\r\n",
        b"HSF2 BAD not now\r\nHSF3 BAD not now\r\n",  # both pipelined commands refused
        response_line(3, header[3]) + response_line(4, header[4]) + b"HSF4 OK\r\n",
        response_line(5, header[5]) + response_line(6, header[6]) + b"HSF5 OK\r\n",
    ]
    sent = []

    def read() -> bytes:
        assert answers, "read with nothing in flight: the client would hang"
        return answers.pop(0)

    scans = RangeScans(sent.append, read, round_trip=1.0)  # a slow link: pipelined at once
    everything = judge({b"<m1@x>"})
    ranges = [(1, 2), (3, 4), (5, 6)]
    got = [
        [uid for uid, _ in scans.scan(f, last, everything, ahead).found]
        for (f, last), ahead in zip(ranges, [*ranges[1:], None], strict=True)
    ]
    assert got == [[1], [], []]
    assert [line.split()[0] for line in sent] == [b"HSF1", b"HSF2", b"HSF3", b"HSF4", b"HSF5"]
    assert scans.lead is None  # no more pipelining on this connection


def test_a_reply_that_comes_before_its_parent_is_judged_after_it():
    """Dovecot may answer the second FETCH first: the reply in the next range must still be
    judged after the message it answers, as a one-by-one reading would."""
    header = {
        1: b"Message-ID: <m1@x>\r\n\r\n",
        2: b"Message-ID: <m2@x>\r\nIn-Reply-To: <m1@x>\r\n\r\n",
        3: b"Message-ID: <m3@x>\r\nIn-Reply-To: <m2@x>\r\n\r\n",
        4: b"Message-ID: <m4@x>\r\n\r\n",
    }
    answers = [
        response_line(3, header[3]) + response_line(1, header[1])  # interleaved
        + response_line(2, header[2]) + b"HSF1 OK\r\n",
        response_line(4, header[4]) + b"HSF2 OK\r\n",
    ]  # fmt: skip
    scans = RangeScans(lambda line: None, lambda: answers.pop(0), round_trip=1.0)
    want = judge({b"<m1@x>"})
    first = scans.scan(1, 2, want, (3, 4))
    second = scans.scan(3, 4, want)
    assert [uid for uid, _ in first.found] == [1, 2]
    assert [uid for uid, _ in second.found] == [3]
    assert (first.tally.seen, second.tally.seen) == (2, 2)


def test_a_fast_first_answer_overrules_a_slow_examine():
    """EXAMINE of a large folder is slow on loopback too (the server opens its index), which
    would pass for a slow link and make every range collect and sort its messages. A fast
    first answer turns that guess off: the third range's FETCH waits for the second's end."""
    header = {uid: b"Message-ID: <m%d@x>\r\n\r\n" % uid for uid in (1, 1000, 1001, 2000, 2001)}
    answers = [
        response_line(1, header[1]),
        response_line(1000, header[1000]) + b"HSF1 OK\r\n",
        response_line(1001, header[1001]),
        response_line(2000, header[2000]) + b"HSF2 OK\r\n",
        response_line(2001, header[2001]) + b"HSF3 OK\r\n",
    ]
    events = []

    def read() -> bytes:
        events.append("read")
        return answers.pop(0)

    scans = RangeScans(lambda line: events.append(line.split()[0]), read, round_trip=1.0)
    ranges = [(1, 1000), (1001, 2000), (2001, 3000)]
    want = judge(set())
    for (first, last), ahead in zip(ranges, [*ranges[1:], None], strict=True):
        scans.scan(first, last, want, ahead)
    # the slow guess sends the second FETCH at once; the fast first answer corrects it
    assert events == [b"HSF1", b"HSF2", "read", "read", "read", "read", b"HSF3", "read"]
