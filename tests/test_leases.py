"""Leases in the store (what `hubsync worker` claims accounts with), on SQLite and PostgreSQL:
one holder at a time, taken over only after expiry, renewed only by the holder."""

from hubsync.team.status import team_status


def test_one_holder_at_a_time_and_a_takeover_only_after_expiry(store):
    assert store.claim_lease("a", "w1", now_ms=1_000, lease_ms=5_000)
    assert not store.claim_lease("a", "w2", now_ms=2_000, lease_ms=5_000)  # held until 6,000
    assert store.claim_lease("a", "w1", now_ms=2_000, lease_ms=5_000)  # the holder again
    assert store.renew_lease("a", "w1", now_ms=4_000, lease_ms=5_000)  # now until 9,000
    assert not store.claim_lease("a", "w2", now_ms=8_999, lease_ms=5_000)
    assert store.claim_lease("a", "w2", now_ms=9_001, lease_ms=5_000)  # w1 stopped renewing
    assert not store.renew_lease("a", "w1", now_ms=9_002, lease_ms=5_000)  # w1 lost it
    assert [(r["account"], r["owner"]) for r in store.leases()] == [("a", "w2")]


def test_a_released_lease_is_free_at_once_and_only_its_holder_releases_it(store):
    store.claim_lease("a", "w1", now_ms=1_000, lease_ms=60_000)
    store.release_lease("a", "w2")  # not its lease: nothing happens
    assert not store.claim_lease("a", "w2", now_ms=2_000, lease_ms=60_000)
    store.release_lease("a", "w1")
    assert store.claim_lease("a", "w2", now_ms=2_000, lease_ms=60_000)


def test_team_status_shows_holder_expiry_last_sync_and_last_failure(store):
    store.claim_lease("a", "w1", now_ms=1_000, lease_ms=5_000)
    store.add_event("a", "sync", "ok", detail="scanned 3, logged 0")
    store.add_event("a", "connection", "auth-failed", detail="LOGIN refused")
    rows = {r.account: r for r in team_status(store, ["a", "b"], now_ms=10_000)}
    assert rows["a"].worker == "w1" and rows["a"].lease_expired
    assert rows["a"].lease_expires == "1970-01-01T00:00:06+00:00"
    assert rows["a"].last_sync is not None
    assert rows["a"].last_failure["reason"] == "auth-failed"
    assert rows["b"].to_dict() == {
        "account": "b",
        "worker": None,
        "lease_expires": None,
        "lease_expired": False,
        "last_sync": None,
        "last_failure": None,
    }


def test_renewing_many_leases_at_once_returns_the_ones_still_held(store):
    for name in ("a", "b", "c"):
        store.claim_lease(name, "w1", now_ms=1_000, lease_ms=5_000)
    assert store.claim_lease("b", "w2", now_ms=7_000, lease_ms=5_000)  # b expired: taken over
    assert store.renew_leases(["a", "b", "c"], "w1", now_ms=7_001, lease_ms=5_000) == {"a", "c"}
    assert store.renew_leases([], "w1", now_ms=7_002, lease_ms=5_000) == set()
