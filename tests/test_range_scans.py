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
    count = draw(st.integers(1, 60))
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
        live = [q for q in self.queues if q]
        assert live, "read with nothing in flight: the client would hang"
        unfinished = [q for q in live if q[0] in self.rests]  # a line is never interleaved
        queue = unfinished[0] if unfinished else live[self.draw(st.integers(0, len(live) - 1))]
        out = queue.pop(0)
        if out in self.rests:  # the rest of a line a read ended in
            self.rests.discard(out)
        elif self.draw(st.integers(0, 7)) == 0:
            out = b"* 9 EXISTS\r\n" + out  # unsolicited, between two lines
        cut = self.draw(st.integers(0, len(out)))  # a read may end mid-line
        if cut and cut < len(out):
            queue.insert(0, out[cut:])
            self.rests.add(out[cut:])
            out = out[:cut]
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


@settings(max_examples=200, deadline=None)
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
