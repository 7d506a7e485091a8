"""Templates: plain-name placeholders only, every missing variable named, braces escaped."""

import pytest

from hubsync import templates as tpl
from hubsync.errors import NotFound, UsageError


def test_render_fills_every_placeholder_and_keeps_escaped_braces():
    t = tpl.Template("quote", "Quote for {company}", "Dear {first_name}, {{not a field}} {company}")
    assert t.variables == ["company", "first_name"]
    assert t.render({"company": "ACME", "first_name": "Bob"}) == (
        "Quote for ACME",
        "Dear Bob, {not a field} ACME",
    )


def test_missing_variables_are_all_named_with_the_option_to_give():
    t = tpl.Template("quote", "Quote for {company}", "Dear {first_name}")
    with pytest.raises(UsageError) as caught:
        t.render({})
    assert "company, first_name" in caught.value.message
    assert caught.value.fix == "--var company=VALUE --var first_name=VALUE"


@pytest.mark.parametrize("text", ["{a[0]}", "{0.__class__}", "{a!r}", "{a:>10}", "{}", "{0}", "{a"])
def test_placeholders_that_reach_into_python_are_refused(text):
    with pytest.raises(UsageError) as caught:
        tpl.fields(text)
    assert caught.value.reason == "template-invalid"


def test_templates_are_saved_listed_and_removed(home):
    tpl.save(tpl.Template("follow-up", "Re: {topic}", "Hi {name}"))
    assert [t.name for t in tpl.all_templates()] == ["follow-up"]
    assert tpl.load("follow-up").body == "Hi {name}"
    tpl.remove("follow-up")
    with pytest.raises(NotFound):
        tpl.load("follow-up")
