"""The team's views of a shared store (on SQLite and PostgreSQL): which teammates' inboxes a
contact is in, and the logging report summed over every account."""

from mail_factory import make

from hubsync.logbook import log_manual
from hubsync.reports import logging_report, team_report


def test_a_contact_record_names_every_teammate_inbox_they_are_in(store):
    from hubsync.reports.contacts import contact_record

    with store.transaction() as conn:
        store.add_contact(conn, "alice", "Bob@Customer.test", "Bob", "2026-11-01T10:00:00+00:00")
        store.add_contact(conn, "carol", "bob@customer.test", "Bob", "2026-11-20T10:00:00+00:00")
        store.add_contact(conn, "carol", "dan@customer.test", "Dan", "2026-11-21T10:00:00+00:00")
    record = contact_record(store, "alice", "bob@customer.test")
    assert [(i["account"], i["last_seen"][:10]) for i in record.inboxes] == [
        ("carol", "2026-11-20"),
        ("alice", "2026-11-01"),
    ]


def test_the_team_report_sums_every_account(store):
    log_manual(store, "alice", make("<a1@x>", sender="alice@example.test", to="bob@c.test"), ())
    log_manual(store, "alice", make("<a2@x>", sender="bob@c.test", to="alice@example.test"), ())
    log_manual(store, "carol", make("<c1@x>", sender="bob@c.test", to="carol@example.test"), ())
    store.add_event("carol", "connection", "auth-failed", detail="LOGIN refused")
    team = team_report(store)
    assert team.accounts == ["alice", "carol"]
    alice, carol = logging_report(store, "alice"), logging_report(store, "carol")
    assert team.messages_logged == alice.messages_logged + carol.messages_logged == 3
    assert team.logged_by_hand == 3
    bob = "bob@c.test"
    assert team.by_contact[bob]["logged_by_hand"] == sum(
        r.by_contact.get(bob, {}).get("logged_by_hand", 0) for r in (alice, carol)
    )
    assert team.by_contact[bob]["logged_by_hand"] >= 2  # in both accounts
    assert [(e["account"], e["reason"]) for e in team.errors] == [("carol", "auth-failed")]
    assert sum(sum(c.values()) for c in team.by_day.values()) == 3
