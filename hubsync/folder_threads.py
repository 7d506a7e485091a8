"""The threads of a whole live folder (`threads --folder`) on compact arrays.

The same result as ``threads.thread`` followed by ``threads.unrelated_suspects`` (JWZ steps
1-5, subject grouping, the unrelated-email check; tests hold it to them on generated and
random folders), built for hundreds of thousands of messages without an object per message:
each Message-ID is interned once to a container number, and a container's parent, children
and fields live in ``array('i')``. Subjects and From/To/Cc texts are kept once per distinct
text, dates in one buffer; base subjects, participant sets and dates are read once per
distinct text and only where a step needs them. Pure: no I/O.

While the messages arrive only parents are kept, with the order of each link in a log:
children lists are built once at the end (a message's children are those linked to it, in
the order they were last linked), so a link costs three array writes.
"""

from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from hubsync import threads as jwz
from hubsync.mail.parse import decoded_text

NONE = -1
_ANCESTRY_LIMIT = 100_000  # as threads._is_ancestor: a longer chain counts as a loop
_GROWTH = 1 << 15  # containers added to every array at a time


def subject_text(raw: bytes) -> str:
    """A raw Subject header as text (RFC 2047 decoding only where there are encoded words:
    most subjects have none)."""
    text = raw.decode("utf-8", "replace")
    return decoded_text(text) if "=?" in text else text


@dataclass
class FolderThreads:
    """A folder's threads: counts, the largest thread, the suspected unrelated emails, and
    each thread's Message-IDs in tree order (``thread_lists``, produced as it is read)."""

    messages: int
    threads: int
    largest_messages: int
    largest_subject: str | None
    without_message_id: int
    suspect_count: int
    _names: list[str]
    _order: array  # the message containers, thread after thread, each in tree order
    _ends: array  # where each thread ends in _order
    _flags: array  # per suspect: its container, its parent's, their subjects, the gap or -1
    _subjects: list[str]

    def suspected_unrelated(self) -> Iterator[dict]:
        """The suspected unrelated emails in tree order: message_id, parent_id, and the
        reasons (``threads.unrelated_suspects``'s words), made as they are read."""
        flags, names, subjects = self._flags, self._names, self._subjects
        for at in range(0, len(flags), 5):
            child, mother, child_subject, mother_subject, gap = flags[at : at + 5]
            reasons = [
                f"subject changed from '{subjects[mother_subject]}' to '{subjects[child_subject]}'",
                "no participant in common with the message it replies to",
            ]
            if gap >= jwz.GAP_DAYS:
                reasons.append(f"written {gap} days after it")
            yield {"message_id": names[child], "parent_id": names[mother], "reasons": reasons}

    def thread_lists(self) -> Iterator[list[str]]:
        """Each thread's Message-IDs, depth first, siblings in the order they were linked."""
        names, order, start = self._names, self._order, 0
        for end in self._ends:
            yield [names[i] for i in order[start:end]]
            start = end

    def message_id_chars(self) -> int:
        """The characters of every Message-ID in ``thread_lists`` (a lower bound of their
        JSON's size)."""
        names = self._names
        return sum(len(names[i]) for i in self._order)


class FolderThreader:
    """Feed every message of a folder in UID order (``add``), then ``finish`` once."""

    def __init__(self, own: str = "", subject_grouping: str = jwz.PARTICIPANTS) -> None:
        self._grouping = subject_grouping
        self._own = {own.lower()} if own else set()
        self._ids: dict[str, int] = {}  # Message-ID (or a duplicate's key) -> container
        self._names: list[str] = []  # container -> its message's Message-ID
        self._size = 0  # containers made
        self._room = 0  # containers the arrays hold
        self._parent = array("i")
        self._seq = array("i")  # container -> the link log entry that hung it last
        self._subject = array("i")  # container -> subject number; NONE: no message
        self._people = array("i")  # container -> number of its From/To/Cc text
        self._linked = bytearray()  # container -> the message names a parent
        self._mothers = bytearray()  # container -> a child was ever hung under it
        self._log = array("i")  # the child of every link, in link order
        self._subjects: dict[bytes, int] = {}  # raw Subject -> its number
        self._peoples: dict[bytes, int] = {}  # raw From, To and Cc -> their number
        self._dates = bytearray()  # every message's raw Date header, back to back
        self._date_at = array("q")  # container -> where its date starts in _dates
        self._date_size = array("I")
        self.messages = 0
        self.without_message_id = 0

    def _grow(self) -> None:
        more = array("i", [NONE]) * _GROWTH
        for column in (self._parent, self._seq, self._subject, self._people):
            column.extend(more)
        self._linked.extend(bytes(_GROWTH))
        self._mothers.extend(bytes(_GROWTH))
        self._date_at.extend(array("q", bytes(8 * _GROWTH)))
        self._date_size.extend(array("I", bytes(4 * _GROWTH)))
        self._room += _GROWTH

    def _new(self, key: str, name: str) -> int:
        box = self._size
        if box == self._room:
            self._grow()
        self._size = box + 1
        self._ids[key] = box
        self._names.append(name)
        return box

    def _link(self, parent: int, child: int) -> None:
        """Hang ``child`` (a root) last under ``parent``."""
        self._mothers[parent] = 1
        self._parent[child] = parent
        self._seq[child] = len(self._log)
        self._log.append(child)

    def _above(self, candidate: int, node: int, mothers: bytearray) -> bool:
        """``_is_ancestor``, without the walk up where ``candidate`` never had a child (it
        is then nobody's ancestor but its own): a chain of thousands of replies costs one
        step per message, not one per message above it."""
        return candidate == node or bool(mothers[candidate] and self._is_ancestor(candidate, node))

    def _is_ancestor(self, candidate: int, node: int) -> bool:
        parent, seen = self._parent, 0
        while node != NONE:
            if node == candidate:
                return True
            node = parent[node]
            seen += 1
            if seen > _ANCESTRY_LIMIT:
                return True
        return False

    def add(
        self,
        message_id: str,
        had_message_id: bool,
        in_reply_to: str,
        references: list[str],
        subject: bytes,
        date: bytes,
        people: bytes,
    ) -> None:
        """One message, in the folder's UID order (JWZ steps 1-2). ``subject`` and
        ``people`` (From, To, Cc) are raw header bytes, ``date`` the raw Date header."""
        n = self.messages
        self.messages = n + 1
        if not had_message_id:
            self.without_message_id += 1
        ids = self._ids
        box = ids.get(message_id)
        if box is None:
            box = self._new(message_id, message_id)
        elif self._subject[box] != NONE:
            # a second copy of a Message-ID sits beside the first (threads.thread)
            copy = self._new(f"<duplicate-{n}-{message_id.strip('<>')}>", message_id)
            self._fill(copy, bool(in_reply_to or references), subject, date, people)
            self._link(box, copy)
            return
        self._fill(box, bool(in_reply_to or references), subject, date, people)
        parent = self._parent
        if references:
            refs = [r for r in references if "@" in r]
            if not refs and "@" in in_reply_to:
                refs = [in_reply_to]
        else:
            refs = [in_reply_to] if "@" in in_reply_to else []
        previous = NONE
        mothers = self._mothers
        for ref in refs:
            node = ids.get(ref)
            if node is None:
                node = self._new(ref, ref)
            if (
                previous != NONE
                and parent[node] == NONE
                and not self._above(node, previous, mothers)
            ):
                self._link(previous, node)
            previous = node
        if parent[box] != NONE:
            parent[box] = NONE  # unlinked: its log entry no longer counts
            self._seq[box] = NONE
        if previous != NONE and not self._above(box, previous, mothers):
            self._link(previous, box)

    def _fill(self, box: int, linked: bool, subject: bytes, date: bytes, people: bytes) -> None:
        subjects, peoples = self._subjects, self._peoples
        number = subjects.get(subject)
        if number is None:
            number = subjects[subject] = len(subjects)
        self._subject[box] = number
        number = peoples.get(people)
        if number is None:
            number = peoples[people] = len(peoples)
        self._people[box] = number
        self._date_at[box] = len(self._dates)
        self._date_size[box] = len(date)
        self._dates += date
        self._linked[box] = linked

    def finish(self) -> FolderThreads:
        """JWZ steps 3-5 and the unrelated-email check: the folder's threads."""
        parent = self._parent
        roots = [box for box in self._ids.values() if parent[box] == NONE]
        self._ids = {}  # the largest structure: only numbers from here on
        self._subject_texts = [subject_text(raw) for raw in self._subjects]
        self._bases = [jwz.base_subject(text) for text in self._subject_texts]
        self._people_texts = [raw.decode("utf-8", "replace") for raw in self._peoples]
        self._subjects = self._peoples = {}
        self._build_children()
        roots = self._prune(roots)
        if self._grouping != jwz.OFF:
            roots = self._group_by_subject(roots)
        return self._report(roots)

    def _build_children(self) -> None:
        """First child, last child and next sibling of every container, from the link log:
        a container's children are those hung under it, in the order of their last link."""
        size = self._size
        empty = array("i", [NONE]) * size
        first, last, following = array("i", empty), array("i", empty), empty
        parent, seq = self._parent, self._seq
        for at, child in enumerate(self._log):
            if seq[child] != at:
                continue  # moved later (or unlinked) since
            mother = parent[child]
            tail = last[mother]
            if tail == NONE:
                first[mother] = child
            else:
                following[tail] = child
            last[mother] = child
        self._log = self._seq = array("i")
        self._first, self._last, self._next = first, last, following

    def _children(self, box: int) -> list[int]:
        found, child, following = [], self._first[box], self._next
        while child != NONE:
            found.append(child)
            child = following[child]
        return found

    def _relink(self, box: int, children: list[int]) -> None:
        """``children`` become ``box``'s, in this order."""
        parent, following = self._parent, self._next
        previous = NONE
        for child in children:
            parent[child] = box
            if previous == NONE:
                self._first[box] = child
            else:
                following[previous] = child
            previous = child
        if previous == NONE:
            self._first[box] = NONE
        else:
            following[previous] = NONE
        self._last[box] = previous

    def _append(self, box: int, child: int) -> None:
        """Hang the root ``child`` last under ``box``."""
        self._parent[child] = box
        self._next[child] = NONE
        tail = self._last[box]
        if tail == NONE:
            self._first[box] = child
        else:
            self._next[tail] = child
        self._last[box] = child

    def _prune(self, roots: list[int]) -> list[int]:
        """JWZ step 4 as ``threads._prune``: empty containers without children dropped, the
        children of other empty ones promoted, except a root holding several together.
        Only the containers without a message and their parents change: those alone are
        visited, the deepest first."""
        parent, subject = self._parent, self._subject
        empty = [box for box in range(self._size) if subject[box] == NONE]
        if not empty:
            return roots
        depth = self._depths(empty)
        empty.sort(key=depth.__getitem__, reverse=True)
        promoted: dict[int, list[int]] = {}  # an empty container -> what stands in its place
        for box in empty:  # every child before its parent
            kids = self._stand_ins(box, promoted)
            if not kids or parent[box] != NONE or len(kids) == 1:
                promoted[box] = kids  # none: dropped
        for mother in {parent[box] for box in empty} - {NONE}:
            if subject[mother] != NONE:  # an empty one was rebuilt above
                self._stand_ins(mother, promoted)
        kept = []
        for root in roots:
            for box in promoted.get(root, (root,)):
                parent[box] = NONE
                kept.append(box)
        return kept

    def _stand_ins(self, box: int, promoted: dict[int, list[int]]) -> list[int]:
        """Replace each child of ``box`` by what stands in its place; its new children."""
        kids = [c for child in self._children(box) for c in promoted.pop(child, (child,))]
        self._relink(box, kids)
        return kids

    def _depths(self, boxes: list[int]) -> dict[int, int]:
        """How many containers lie above each of ``boxes`` (each container walked once)."""
        parent = self._parent
        depth: dict[int, int] = {}
        for box in boxes:
            path, node = [], box
            while node != NONE and node not in depth:
                path.append(node)
                node = parent[node]
            steps = -1 if node == NONE else depth[node]
            for node in reversed(path):
                steps += 1
                depth[node] = steps
        return depth

    def _who(self, box: int) -> frozenset[str]:
        return jwz.participants(self._people_texts[self._people[box]])

    def _group_by_subject(self, roots: list[int]) -> list[int]:
        """JWZ step 5 as ``threads._group_by_subject``: a root without threading headers
        joins the first earlier root of its base subject (with PARTICIPANTS only one it
        shares a participant with)."""
        base = self._bases
        subject, linked = self._subject, self._linked
        by_subject: dict[str, int | list[int]] = {}  # one root, or several (rare)
        people: dict[int, set[str]] = {}  # a candidate's participants, read when needed
        result = []
        for root in roots:
            number = subject[root]
            if number == NONE:
                result.append(root)
                continue
            key = base[number]
            if not linked[root] and key in by_subject:
                candidates = by_subject[key]
                if type(candidates) is int:
                    candidates = [candidates]
                host = self._host(candidates, root, people)
                if host != NONE:
                    self._append(host, root)
                    continue
            if key:
                found = by_subject.get(key)
                if found is None:
                    by_subject[key] = root
                elif type(found) is int:
                    by_subject[key] = [found, root]
                else:
                    found.append(root)
            result.append(root)
        return result

    def _host(self, candidates: list[int], root: int, people: dict[int, set[str]]) -> int:
        if self._grouping == jwz.RFC5256:
            return candidates[0]
        mine = self._who(root) - self._own
        if not mine:
            return NONE
        for candidate in candidates:
            theirs = people.get(candidate)
            if theirs is None:
                theirs = people[candidate] = set(self._who(candidate)) - self._own
            if theirs & mine:
                theirs |= mine
                return candidate
        return NONE

    def _report(self, roots: list[int]) -> FolderThreads:
        """Walk every thread once, depth first: its messages in tree order, and each message
        against the nearest message above it (``threads.unrelated_suspects``)."""
        subject, parent, first, following = self._subject, self._parent, self._first, self._next
        base = self._bases
        order, ends = array("i"), array("i")
        self._flags = array("i")
        self._others: list[frozenset | None] = [None] * len(self._people_texts)
        largest, largest_subject = 0, None
        for root in roots:
            start = len(order)
            box = root
            while True:
                number = subject[box]
                if number != NONE:
                    order.append(box)
                    mother = parent[box]
                    while mother != NONE and subject[mother] == NONE:
                        mother = parent[mother]
                    if mother != NONE and base[number] != base[subject[mother]]:
                        self._check(box, mother)
                if first[box] != NONE:
                    box = first[box]
                    continue
                while box != root and following[box] == NONE:
                    box = parent[box]
                if box == root:
                    break
                box = following[box]
            count = len(order) - start
            if count > largest:
                largest, largest_subject = count, self._subject_texts[subject[order[start]]]
            ends.append(len(order))
        return FolderThreads(
            messages=self.messages,
            threads=len(roots),
            largest_messages=largest,
            largest_subject=largest_subject,
            without_message_id=self.without_message_id,
            suspect_count=len(self._flags) // 5,
            _names=self._names,
            _order=order,
            _ends=ends,
            _flags=self._flags,
            _subjects=self._subject_texts,
        )

    def _date(self, box: int) -> str:
        start = self._date_at[box]
        return self._dates[start : start + self._date_size[box]].decode("latin-1")

    def _others_of(self, box: int) -> frozenset[str]:
        """The participants of ``box``'s message but the account's own address (per
        distinct From/To/Cc text, read once)."""
        number = self._people[box]
        found = self._others[number]
        if found is None:
            found = self._others[number] = jwz.participants(self._people_texts[number]) - self._own
        return found

    def _check(self, child: int, mother: int) -> None:
        """Flag ``child`` if it has no participant in common with ``mother`` either (their
        base subjects already differ)."""
        if not self._others_of(child).isdisjoint(self._others_of(mother)):
            return
        gap = jwz.gap_days(jwz.iso_date(self._date(mother)), jwz.iso_date(self._date(child)))
        subject = self._subject
        self._flags.extend(
            (child, mother, subject[child], subject[mother], NONE if gap is None else gap)
        )
