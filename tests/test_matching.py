"""Reply matching and never-log rules (pure functions)."""

from hubsync.sync.matching import ids_in, match_reply, never_log_hit

TRACKED = {"<root@a.test>": 1, "<mid@a.test>": 1, "<other@b.test>": 2}


def test_in_reply_to_wins_and_names_the_rule():
    m = match_reply(["<root@a.test>"], ["<x@y>", "<other@b.test>"], TRACKED)
    assert (m.thread_id, m.rule, m.ref) == (1, "in-reply-to", "<root@a.test>")


def test_any_reference_matches_closest_first():
    m = match_reply(
        ["<unknown@z>"], ["<root@a.test>", "<rewritten@relay>", "<mid@a.test>"], TRACKED
    )
    assert (m.thread_id, m.rule, m.ref) == (1, "references", "<mid@a.test>")
    other = match_reply([], ["<other@b.test>", "<x@y>"], TRACKED)
    assert (other.thread_id, other.rule, other.ref) == (2, "references", "<other@b.test>")


def test_unrelated_message_does_not_match():
    assert match_reply([], [], TRACKED) is None
    assert match_reply(["<a@b>"], ["<c@d>"], TRACKED) is None


def test_ids_in_tolerates_junk():
    assert ids_in(b"junk <a@b> more\t<c@d>  <broken") == ["<a@b>", "<c@d>"]
    assert ids_in(None) == []


def test_never_log_addresses_and_domains():
    rules = ["ceo@corp.test", "@hr.test", "partner.test"]
    assert never_log_hit(["CEO@corp.test"], rules) == "ceo@corp.test"
    assert never_log_hit(["x@hr.test"], rules) == "@hr.test"
    assert never_log_hit(["y@mail.partner.test"], rules) == "partner.test"
    assert never_log_hit(["z@corp.test", "w@notpartner.test"], rules) is None


def test_a_domain_rule_covers_subdomains_and_addresses_with_an_at_in_the_local_part():
    rules = ["@hr.test"]
    assert never_log_hit(["x@eu.hr.test"], rules) == "@hr.test"
    assert never_log_hit(['"a@b"@hr.test'], rules) == "@hr.test"
    # the domain is what follows the last "@": a quoted local part cannot fake it
    assert never_log_hit(['"x@hr.test"@elsewhere.test'], rules) is None
    assert never_log_hit(["x@hr.test.evil"], rules) is None
