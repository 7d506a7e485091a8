"""Whether an email's attachments are kept, and what the user is told (attachment_policy.py):
the switch, the limit and its boundary, and sizes in words."""

import dataclasses

import pytest
from memory_mailbox import ACCOUNT

from hubsync import attachment_policy
from hubsync.attachment_policy import OFF, OVER_LIMIT, Decision, decide, human_size

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("count", "words"),
    [
        (0, "0 bytes"),
        (1, "1 bytes"),
        (1023, "1,023 bytes"),
        (1023.9, "1,023 bytes"),
        (1024, "1 KB"),
        (1536, "2 KB"),
        (10 * 1024, "10 KB"),
        (MB - 1, "1024 KB"),
        (MB, "1 MB"),
        (1.5 * MB, "1.5 MB"),
        (50 * MB, "50 MB"),
        (123_456_789, "118 MB"),
        (2048 * MB, "2.05e+03 MB"),
    ],
)
def test_sizes_in_words(count, words):
    assert human_size(count) == words


def test_switched_off_nothing_is_kept_whatever_the_size():
    off = dataclasses.replace(ACCOUNT, log_attachments=False)
    for size in (0, 10, 10**10):
        assert decide(off, size) == Decision(False, OFF, "attachment logging is switched off")


@pytest.mark.parametrize(
    ("limit_mb", "size", "keep"),
    [
        (50.0, 0, True),
        (50.0, 50 * MB - 1, True),
        (50.0, 50 * MB, False),  # the limit itself is over it
        (50.0, 50 * MB + 1, False),
        (0.5, MB // 2 - 1, True),
        (0.5, MB // 2, False),
        (1, MB - 1, True),
    ],
)
def test_the_limit_boundary(limit_mb, size, keep):
    account = dataclasses.replace(ACCOUNT, attachment_limit_mb=limit_mb)
    decision = decide(account, size)
    assert decision.keep is keep
    if keep:
        assert decision == Decision(True)
    else:
        assert decision.reason == OVER_LIMIT == attachment_policy.OVER_LIMIT


def test_the_note_names_the_size_and_the_limit():
    account = dataclasses.replace(ACCOUNT, attachment_limit_mb=2)
    note = decide(account, 3 * MB).note
    assert note == "attachments not logged: the email is 3 MB, over the 2 MB limit"
    assert decide(ACCOUNT, 60 * MB).note.endswith("over the 50 MB limit")
