"""Secrets registered for redaction never appear in what ``scrub`` lets through."""

import pytest

from hubsync import redact


@pytest.fixture(autouse=True)
def no_secrets(monkeypatch):
    monkeypatch.setattr(redact, "_SECRETS", set())


def test_a_registered_secret_is_replaced_by_stars():
    redact.register("s3cret-pw")
    assert redact.scrub("login s3cret-pw failed; s3cret-pw again") == "login *** failed; *** again"


def test_nothing_and_very_short_values_are_not_secrets():
    redact.register(None)
    redact.register("")
    redact.register("ab")  # would blank every "ab" in every message
    assert redact.scrub("abc ab") == "abc ab"
    redact.register("abc")
    assert redact.scrub("abc ab") == "*** ab"


def test_a_secret_inside_a_longer_one_does_not_leave_the_rest_visible():
    # "pass" sorts after "mypassword": replaced first, it would leave "my***word" behind
    redact.register("pass")
    redact.register("mypassword")
    assert redact.scrub("token mypassword") == "token ***"
    redact.register("zz")  # too short, ignored
    redact.register("a-much-longer-secret-zz1")
    redact.register("zz1")
    assert redact.scrub("a-much-longer-secret-zz1") == "***"
