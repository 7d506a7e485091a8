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


def test_missing_variables_have_their_own_reason():
    with pytest.raises(UsageError) as caught:
        tpl.Template("quote", "", "Dear {first_name}").render({})
    assert caught.value.message == "Template 'quote' needs first_name; nothing was sent."
    assert caught.value.reason == "template-variable"


@pytest.mark.parametrize(
    "text, shown",
    [("{a!r}", "{a!r}"), ("{a:>10}", "{a:>10}"), ("{a!s:^3}", "{a!s:^3}"), ("{a[0]}", "{a[0]}")],
)
def test_a_refused_placeholder_is_shown_as_written_with_the_fix(text, shown):
    with pytest.raises(UsageError) as caught:
        tpl.fields(f"Hello {text}")
    assert caught.value.message == f"Template placeholder {shown} is not a plain name."
    assert caught.value.fix == (
        "Use placeholders like {first_name} (letters, digits, underscores); "
        "write {{ and }} for literal braces."
    )


def test_an_unbalanced_brace_says_how_to_write_a_brace():
    with pytest.raises(UsageError) as caught:
        tpl.fields("Price {")
    assert caught.value.message.startswith("Template text is malformed: ")
    assert caught.value.message.endswith("(write {{ and }} for braces).")


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "", "x" * 65, "a b"])
def test_a_template_name_cannot_be_a_path(home, name):
    with pytest.raises(UsageError) as caught:
        tpl.save(tpl.Template(name, "s", "b"))
    assert caught.value.message == (
        f"Template name {name!r} may hold letters, digits, '.', '_' and '-'."
    )
    assert caught.value.reason == "template-name"
    assert not any(home.rglob("*.toml"))


def test_saved_templates_keep_subject_and_body_in_the_templates_folder(home):
    path = tpl.save(tpl.Template("offer", "Offer for {company}", "Dear {name},\n\nPrice: 5 €\n"))
    assert path == tpl.directory() / "offer.toml" and tpl.directory().name == "templates"
    assert tpl.exists("offer") and not tpl.exists("other")
    loaded = tpl.load("offer")
    assert (loaded.subject, loaded.body) == ("Offer for {company}", "Dear {name},\n\nPrice: 5 €\n")


def test_a_hand_written_file_without_subject_or_body_loads_as_empty(home):
    tpl.directory().mkdir(parents=True)
    (tpl.directory() / "bare.toml").write_text("# nothing yet\n")
    bare = tpl.load("bare")
    assert (bare.subject, bare.body) == ("", "")


def test_an_unknown_template_lists_the_known_ones(home):
    with pytest.raises(NotFound) as none_yet:
        tpl.load("quote")
    assert none_yet.value.message == "No template named 'quote' (known: none)."
    assert none_yet.value.fix == "Add one with `hubsync templates add`."
    assert none_yet.value.reason == "no-template"
    tpl.save(tpl.Template("b-offer", "", ""))
    tpl.save(tpl.Template("a-intro", "", ""))
    with pytest.raises(NotFound) as known:
        tpl.load("quote")
    assert known.value.message == "No template named 'quote' (known: a-intro, b-offer)."
    with pytest.raises(NotFound) as removing:
        tpl.remove("quote")
    assert removing.value.message == "No template named 'quote'."
    assert removing.value.reason == "no-template"


@pytest.mark.parametrize(
    "text, subject, body",
    [
        ("Subject: Re: {topic}\n\nHello {name}\n", "Re: {topic}", "Hello {name}\n"),
        ("SUBJECT:Offer\r\n\r\n\r\n  indented\n\n", "Offer", "  indented\n\n"),
        (
            "Hello {name}\nSubject: not a header here\n",
            "",
            "Hello {name}\nSubject: not a header here\n",
        ),
        ("Subject: only a subject", "only a subject", ""),
        ("Subject: Season\n\nXmas offer\n", "Season", "Xmas offer\n"),
    ],
)
def test_a_template_file_may_start_with_a_subject_line(text, subject, body):
    assert tpl.parse_file(text) == (subject, body)


def test_templates_show_and_remove_from_the_command_line(run_cli, tmp_path):
    source = tmp_path / "offer.txt"
    source.write_text("Subject: Offer for {company}\n\nDear [b]{name}[/b],\nsee attached.\n")
    assert run_cli("templates", "add", "offer", "--file", str(source)).code == 0
    shown = run_cli("templates", "show", "offer")
    assert shown.code == 0
    assert shown.stdout == "Subject: Offer for {company}\n\nDear [b]{name}[/b],\nsee attached.\n\n"
    data = run_cli("templates", "show", "offer", "--json").json()
    assert data == {
        "schema": 2,
        "name": "offer",
        "subject": "Offer for {company}",
        "body": "Dear [b]{name}[/b],\nsee attached.\n",
        "variables": ["company", "name"],
    }
    removed = run_cli("templates", "remove", "offer")
    assert removed.code == 0 and "Removed template offer" in removed.stdout
    gone = run_cli("templates", "show", "offer", "--json")
    assert gone.code == 1 and gone.json()["error"] == "no-template"
    assert run_cli("templates", "remove", "offer").code == 1
