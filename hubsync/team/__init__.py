"""A team's shared log: workers that watch many inboxes (leases in the store), and the team's
view of who watches what."""
