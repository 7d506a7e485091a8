"""The sandbox demo's steps after probing: each takes (sandbox, env)."""

from sandbox.demo import step


def connect(box, env) -> None:
    step(
        "Connect alice's inbox (discovery through DNS SRV, password into gnome-keyring)",
        "connect",
        "alice@example.test",
        "--account",
        "alice",
        "--name",
        "Alice Seller",
        "--cafile",
        str(box.ca.cert_path),
        "--password-stdin",
        "--yes",
        env=env,
        input=box.users["alice@example.test"].password + "\n",
    )
    step("Accounts", "accounts", "list", env=env)


def send(box, env) -> None:
    step(
        "Send Bob a quote (submitted once; one copy filed in Sent)",
        "send",
        "--to",
        "Bob Buyer <bob@customer.test>",
        "--subject",
        "Your quote",
        "--body",
        "Hi Bob,\n\nthe quote is attached.\n\nAlice",
        "--attach",
        str(box.ca.cert_path),
        env=env,
    )
    step("Outbox (nothing owed)", "outbox", env=env)


STEPS = [connect, send]
