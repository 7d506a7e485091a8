"""JWZ threading (jwz.org/doc/threading.html; RFC 5256 REFERENCES) and the check for unrelated
emails chained into an old thread. Pure functions of message headers: no I/O.
"""

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Re:, Fwd:, and localized reply/forward prefixes (AW, SV, VS, RV, Antw, Odp, ...), with an
# optional [n] counter; list tags such as "[team]" at the start.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|vb|rv|tr|antw|odp|pd|fs|ynt|res|enc|r|i)"
    r"(?:\[\d+\]|\(\d+\))?\s*:\s*|\[[^\]]{1,40}\]\s*)",
    re.IGNORECASE,
)
GAP_DAYS = 30  # a reply this long after its parent strengthens the "unrelated" signal
# Addresses in From/To/Cc, for the participant checks only (a regex: email.utils.getaddresses
# costs ten times as much, and which display name goes with which address does not matter).
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")

# How roots without threading headers are grouped by subject (`--subject-grouping`):
RFC5256 = "rfc5256"  # same base subject (RFC 5256 REFERENCES, step 5)
PARTICIPANTS = "participants"  # same base subject and a participant in common (default)
OFF = "off"  # never: threads only by Message-ID references
SUBJECT_GROUPING = (PARTICIPANTS, RFC5256, OFF)


@dataclass(slots=True)  # a folder audit makes one per message: no __dict__ each
class Message:
    message_id: str
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    subject: str = ""
    date: str = ""
    participants: frozenset[str] = frozenset()
    data: dict | None = None  # whatever the caller wants to carry along
    people: str = ""  # raw From/To/Cc text, read only when the participants are needed
    raw_date: str = ""  # a raw Date header, turned into ``date`` only when needed

    @property
    def has_threading_headers(self) -> bool:
        """True when the message names a parent (In-Reply-To or References)."""
        return bool(self.in_reply_to or self.references)

    def who(self) -> frozenset[str]:
        """The participants' addresses (lower-case), from ``participants`` or ``people``."""
        if not self.participants and self.people:
            self.participants = participants(self.people)
        return self.participants

    def when(self) -> str:
        """The date as ISO 8601 ("" when unknown)."""
        if not self.date and self.raw_date:
            self.date = iso_date(self.raw_date)
        return self.date


@functools.lru_cache(maxsize=1 << 16)
def participants(people: str) -> frozenset[str]:
    """The addresses in a From/To/Cc text. The same senders and recipients recur across a
    folder: read each text once, and its messages share one set."""
    return frozenset(_ADDRESS.findall(people.lower()))


@functools.lru_cache(maxsize=4096)
def iso_date(raw: str) -> str:
    """Date headers repeat (a folder's mail comes from few clients and days): parse once."""
    from hubsync.mail import parse

    return parse.iso_date(raw)


@dataclass(eq=False, slots=True)
class Container:
    message_id: str
    message: Message | None = None
    parent: "Container | None" = None
    children: list["Container"] = field(default_factory=list)

    def walk(self) -> Iterable["Container"]:
        """This container and every container below it, depth first (iterative: a chain of
        thousands of replies must not exhaust Python's recursion limit)."""
        stack = [self]
        while stack:
            box = stack.pop()
            yield box
            if box.children:
                stack.extend(reversed(box.children))

    def messages(self) -> list[Message]:
        """The messages in this subtree, depth first (placeholders skipped)."""
        return [c.message for c in self.walk() if c.message is not None]


@dataclass
class Suspect:
    message_id: str
    parent_id: str
    reasons: list[str]
    gap_days: int | None


_FWD_SUFFIX = re.compile(r"\s*\((?:fwd|fw)\)\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=1 << 16)  # a thread's messages share a subject: read it once
def base_subject(subject: str) -> str:
    """Subject without Re:/Fwd:/localized prefixes and list tags, lower-cased, spaces folded."""
    text = " ".join((subject or "").split())
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = _FWD_SUFFIX.sub("", text)
    return text.strip().lower()


def _is_ancestor(candidate: Container, node: Container) -> bool:
    """Whether ``candidate`` is ``node`` or one of its ancestors."""
    seen = 0
    while node is not None:
        if node is candidate:
            return True
        node = node.parent
        seen += 1
        if seen > 100_000:
            return True
    return False


def _link(parent: Container, child: Container) -> None:
    """Hang ``child`` (a root: every caller checks it has no parent) under ``parent``."""
    child.parent = parent
    parent.children.append(child)


def thread(
    messages: Iterable[Message], subject_grouping: str = PARTICIPANTS, own: Iterable[str] = ()
) -> list[Container]:
    """The root set after JWZ steps 1-5: placeholders for referenced but missing messages,
    loops refused, empty containers pruned, and subject grouping only for messages that carry
    no threading headers (``subject_grouping``: see SUBJECT_GROUPING; ``own``: the account's
    addresses, which never count as a shared participant)."""
    table: dict[str, Container] = {}
    for n, msg in enumerate(messages):
        mid = msg.message_id or f"<synthetic-{n}@hubsync.invalid>"
        box = table.get(mid)
        if box is not None and box.message is not None:
            # A second copy with the same Message-ID (e.g. the same post from two list
            # archives) is the same message: keep it beside the first copy.
            copy = table[f"<duplicate-{n}-{mid.strip('<>')}>"] = Container(mid, msg)
            _link(box, copy)
            continue
        if box is None:
            box = table[mid] = Container(mid)
        box.message = msg
        # A msg-id is id-left "@" id-right (RFC 5322 3.6.4); tools have written things like
        # "References: <yes>" that would otherwise glue unrelated threads together.
        # In-Reply-To counts only when References holds no valid id (RFC 5256 REFERENCES).
        refs = [r for r in msg.references if "@" in r]
        if not refs and "@" in msg.in_reply_to:
            refs = [msg.in_reply_to]
        previous = None
        for ref in refs:
            node = table.get(ref)
            if node is None:
                node = table[ref] = Container(ref)
            if previous is not None and node.parent is None and not _is_ancestor(node, previous):
                _link(previous, node)
            previous = node
        if box.parent is not None:
            box.parent.children.remove(box)
            box.parent = None
        if previous is not None and not _is_ancestor(box, previous):
            _link(previous, box)
    roots = [c for c in table.values() if c.parent is None]
    roots = _prune(roots)
    if subject_grouping == OFF:
        return roots
    return _group_by_subject(roots, subject_grouping, {a.lower() for a in own})


def _prune(roots: list[Container]) -> list[Container]:
    """JWZ step 4, bottom-up without recursion: drop empty containers without children,
    promote the children of other empty ones (but keep a placeholder at the root that holds
    several children together)."""
    order: list[Container] = []
    stack = list(roots)
    while stack:
        box = stack.pop()
        order.append(box)
        stack.extend(box.children)
    kept: dict[int, list[Container]] = {}  # id(box) -> what stands in its place
    for box in reversed(order):  # every child before its parent
        if box.children:
            children = [c for child in box.children for c in kept[id(child)]]
            box.children = children
            for child in children:
                child.parent = box
        kept[id(box)] = _what_remains(box)
    return [c for root in roots for c in kept[id(root)]]


def _what_remains(box: Container) -> list[Container]:
    if box.message is not None:
        return [box]
    if not box.children:
        return []
    if box.parent is not None or len(box.children) == 1:
        for child in box.children:
            child.parent = box.parent
        return box.children
    return [box]


def _group_by_subject(roots: list[Container], mode: str, own: set[str]) -> list[Container]:
    """A root without threading headers joins the first root with its base subject (RFC 5256
    step 5); with PARTICIPANTS only when the two also share a participant (own addresses
    aside), so two customers' "Quote" emails stay two conversations."""
    by_subject: dict[str, list[list]] = {}  # key -> [root, its people (None: not read yet)]
    result: list[Container] = []
    for root in roots:
        msg = root.message
        key = base_subject(msg.subject) if msg else ""
        if msg is not None and not msg.has_threading_headers and key and key in by_subject:
            host = _host(by_subject[key], msg, mode, own)
            if host is not None:
                _link(host, root)
                continue
        if key:
            # The people of a subject group (its root's, and each message's that joins it),
            # read only when another root with the same subject comes along.
            by_subject.setdefault(key, []).append([root, None])
        result.append(root)
    return result


def _host(candidates: list[list], msg: Message, mode: str, own: set[str]) -> Container | None:
    if mode == RFC5256:
        return candidates[0][0]
    mine = msg.who() - own
    if not mine:
        return None
    for entry in candidates:
        candidate, people = entry
        if people is None:
            message = candidate.message
            people = entry[1] = set(message.who()) - own if message is not None else set()
        if people & mine:
            people |= mine
            return candidate
    return None


def unrelated_suspects(roots: list[Container], own: Iterable[str] = ()) -> list[Suspect]:
    """Messages chained to a parent they have nothing to do with: a different base subject
    and no participant in common (the account's own addresses aside)."""
    own_set = {a.lower() for a in own}
    found = []
    for root in roots:
        for box in root.walk():
            parent = box.parent
            while parent is not None and parent.message is None:
                parent = parent.parent
            if box.message is None or parent is None:
                continue
            child, mother = box.message, parent.message
            if base_subject(child.subject) == base_subject(mother.subject):
                continue
            shared = (child.who() - own_set) & (mother.who() - own_set)
            if shared:
                continue
            gap = gap_days(mother.when(), child.when())
            reasons = [
                f"subject changed from '{mother.subject}' to '{child.subject}'",
                "no participant in common with the message it replies to",
            ]
            if gap is not None and gap >= GAP_DAYS:
                reasons.append(f"written {gap} days after it")
            found.append(Suspect(child.message_id, mother.message_id, reasons, gap))
    return found


def gap_days(earlier: str, later: str) -> int | None:
    try:
        a, b = dt.datetime.fromisoformat(earlier), dt.datetime.fromisoformat(later)
    except (TypeError, ValueError):
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        return None
    return abs((b - a).days)
