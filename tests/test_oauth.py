"""OAuth2 end to end: a real OpenID Connect provider (node-oidc-provider), Dovecot checking
tokens by introspection, Postfix authenticating through Dovecot. The tests play the browser
and the user with HTTP requests against the provider's own pages."""

import json
import select
import subprocess
import sys
import threading
import time
import tomllib
import urllib.parse
import urllib.request

import pytest
from helpers import connect_args, wait_for
from oidc_browser import Browser
from test_doctor import edit_account
from test_sync import db, reply, submit_as

from sandbox.oidc import DESKTOP_CLIENT, SCOPES, SHORT_LIVED_CLIENT

ALICE = "alice@example.test"
ALICE_PW = "alice-sandbox-pw"


def oauth_connect_args(sandbox, oidc, account: str, client: str = DESKTOP_CLIENT) -> list[str]:
    """alice's connect arguments (main Dovecot, Postfix), signing in with OAuth2 instead."""
    args = [a for a in connect_args(sandbox, account) if a != "--password-stdin"]
    args += ["--auth", "oauth2", "--oauth-issuer", oidc.issuer, "--oauth-client-id", client]
    args += ["--no-browser", "--json"]
    for scope in SCOPES:
        args += ["--scope", scope]
    return args


def read_line(process: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


def connect(
    cli,
    sandbox,
    oidc,
    account: str,
    *extra: str,
    client: str = DESKTOP_CLIENT,
    flow: str = "browser",
    login: str = ALICE,
    password: str = ALICE_PW,
    consent: bool = True,
):
    """Run `hubsync connect --auth oauth2` and sign in as ``login`` in the "browser" when it
    shows the URL (or enter the device code). Returns (exit code, [event, result], stderr)."""
    args = [*oauth_connect_args(sandbox, oidc, account, client), "--oauth-flow", flow, *extra]
    process = subprocess.Popen(
        [sys.executable, "-m", "hubsync", *args],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        first = read_line(process, 30)
        assert first, "no sign-in event within 30 s: " + process.stderr.read(2000)
        event = json.loads(first)
        browser = Browser()
        if event["event"] == "authorization-url":
            browser.authorize(event["url"], login, password, consent)
        else:
            assert event["event"] == "device-code"
            browser.enter_device_code(
                event["verification_uri"], event["user_code"], login, password, consent
            )
        rest, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # One JSON line per sign-in event as it happens, then the result as JSON documents.
    lines, decoder, at = [event], json.JSONDecoder(), 0
    while rest[at:].strip():
        value, at = decoder.raw_decode(rest, len(rest) - len(rest[at:].lstrip()))
        lines.append(value)
    return process.returncode, lines, stderr


def stored_grant(cli, account: str) -> dict | None:
    """What the keyring holds for ``account`` (read with the keyring library, as a user's
    own keyring tool would)."""
    code = (
        "import keyring, sys; v = keyring.get_password('hubsync', sys.argv[1]); "
        "print(v if v is not None else '')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, account],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout) if done.stdout.strip() else None


def write_grant(cli, account: str, grant: dict) -> None:
    code = "import keyring, sys; keyring.set_password('hubsync', sys.argv[1], sys.stdin.read())"
    subprocess.run(
        [sys.executable, "-c", code, account],
        env=cli.env,
        input=json.dumps(grant),
        text=True,
        timeout=30,
        check=True,
    )


def unique(tag: str) -> str:
    return f"<{tag}-{time.time_ns()}@customer.test>"


def bob_replies(cli, sandbox, parent: str, tag: str) -> str:
    rid = unique(tag)
    submit_as(
        sandbox, "bob@customer.test", reply("bob@customer.test", ALICE, parent, "Re: x", "hi", rid)
    )
    return rid


def logged(cli, message_id: str) -> bool:
    row = db(cli).execute("SELECT 1 FROM messages WHERE message_id = ?", (message_id,)).fetchone()
    return row is not None


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_browser_sign_in_then_send_and_log_a_reply(cli, sandbox, oidc, mechanism):
    account = f"alice-{mechanism.lower()}"
    code, lines, stderr = connect(cli, sandbox, oidc, account, "--oauth-mechanism", mechanism)
    assert code == 0, stderr
    result = lines[-1]
    assert result["ok"] is True
    assert any("OAuth2 token" in s["detail"] for s in result["steps"])  # IMAP and SMTP
    assert "Sign in and allow access" in stderr and "/auth?" in stderr
    grant = stored_grant(cli, account)
    assert grant["refresh_token"] and grant["access_token"]
    config_text = (cli.home / "config.toml").read_text()
    assert grant["refresh_token"] not in config_text and grant["access_token"] not in config_text
    assert 'auth = "oauth2"' in config_text

    sent = cli(
        "send",
        "-a",
        account,
        "--to",
        "bob@customer.test",
        "--subject",
        "OAuth quote",
        "--body",
        "Offer",
        "--json",
    )
    assert sent.code == 0, sent.stderr
    outputs = sent.stdout + sent.stderr
    sent = sent.json()
    rid = bob_replies(cli, sandbox, sent["message_id"], "oauth-reply")
    wait_for(
        lambda: cli("sync", "-a", account).code == 0 and logged(cli, rid), timeout=30, interval=1
    )
    shown = cli("accounts", "show", account, "--json")
    everything = outputs + shown.stdout + stderr + json.dumps(lines)
    assert grant["refresh_token"] not in everything and grant["access_token"] not in everything
    assert "OAuth2 sign-in in keyring" in shown.stdout


def test_device_flow_honours_slow_down_and_signs_in(cli, sandbox, oidc):
    """The device flow through the CLI: the code is shown as it happens, the user types it on
    the provider's page, hubsync polls and connects."""
    code, lines, stderr = connect(cli, sandbox, oidc, "alice-device", flow="device")
    assert code == 0, stderr
    assert lines[0]["event"] == "device-code" and lines[0]["user_code"]
    assert lines[0]["user_code"] in stderr and lines[0]["verification_uri"] in stderr
    assert lines[-1]["ok"] is True
    assert stored_grant(cli, "alice-device")["refresh_token"]


def test_device_flow_polls_slower_when_told(oidc):
    """Polling too fast gets `slow_down` from the real provider; hubsync adds 5 s each time."""
    from hubsync.oauth import discovery, flows
    from hubsync.oauth.tokens import Client

    endpoints = discovery.discover(oidc.issuer)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 2:  # the first two polls come at once: too fast
            time.sleep(seconds)

    def on_code(code) -> None:
        def user() -> None:
            time.sleep(0.5)
            Browser().enter_device_code(code.verification_uri, code.user_code, ALICE, ALICE_PW)

        threading.Thread(target=user, daemon=True).start()

    tokens = flows.device_flow(endpoints, Client(DESKTOP_CLIENT, SCOPES), "t", on_code, sleep=sleep)
    assert tokens.access_token and tokens.refresh_token
    assert waits[0] == 5 and max(waits) >= 10, waits


def test_short_lived_tokens_are_refreshed_and_rotation_is_saved(cli, sandbox, oidc):
    code, _, stderr = connect(cli, sandbox, oidc, "alice-short", client=SHORT_LIVED_CLIENT)
    assert code == 0, stderr
    before = stored_grant(cli, "alice-short")
    time.sleep(2.5)  # the access token has expired
    synced = cli("sync", "-a", "alice-short", "--json")
    assert synced.code == 0, synced.stderr
    after = stored_grant(cli, "alice-short")
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # rotated, and the new one saved
    time.sleep(2.5)
    assert cli("sync", "-a", "alice-short").code == 0  # the saved rotated token works


def test_a_refused_access_token_is_refreshed_once(cli, sandbox, oidc):
    """An access token the server refuses although it has not expired (revoked, or the
    provider restarted) is replaced by a refreshed one; the login then works."""
    code, _, stderr = connect(cli, sandbox, oidc, "alice-stale")
    assert code == 0, stderr
    grant = stored_grant(cli, "alice-stale")
    write_grant(
        cli,
        "alice-stale",
        {**grant, "access_token": "not-a-token", "expires_at": time.time() + 3000},
    )
    result = cli("sync", "-a", "alice-stale", "--json")
    assert result.code == 0, result.stderr
    assert stored_grant(cli, "alice-stale")["access_token"] not in (
        "not-a-token",
        grant["access_token"],
    )


def test_watch_survives_access_token_expiry(cli, sandbox, oidc):
    code, _, stderr = connect(cli, sandbox, oidc, "alice-watch", client=SHORT_LIVED_CLIENT)
    assert code == 0, stderr
    sent = cli(
        "send",
        "-a",
        "alice-watch",
        "--to",
        "bob@customer.test",
        "--subject",
        "watch",
        "--body",
        "x",
        "--json",
    )
    assert sent.code == 0, sent.stderr
    watcher = subprocess.Popen(
        [sys.executable, "-m", "hubsync", "sync", "--watch", "-a", "alice-watch"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        assert "Watching INBOX" in read_line(watcher, 60)
        time.sleep(3)  # the token the watch logged in with has expired
        sandbox.main.doveadm("kick", ALICE)  # the server drops every session of alice
        rid = bob_replies(cli, sandbox, sent.json()["message_id"], "after-expiry")
        wait_for(lambda: logged(cli, rid), timeout=40, interval=0.5)
        assert watcher.poll() is None
    finally:
        watcher.terminate()
        watcher.wait(timeout=20)


def revoke(oidc, refresh_token: str) -> None:
    data = urllib.parse.urlencode(
        {"token": refresh_token, "token_type_hint": "refresh_token", "client_id": DESKTOP_CLIENT}
    ).encode()
    with urllib.request.urlopen(f"{oidc.issuer}/token/revocation", data, timeout=10) as response:
        assert response.status == 200


def test_revoked_consent_fails_clearly_and_loses_nothing(cli, sandbox, oidc):
    code, _, stderr = connect(cli, sandbox, oidc, "alice-revoked")
    assert code == 0, stderr
    sent = cli(
        "send",
        "-a",
        "alice-revoked",
        "--to",
        "bob@customer.test",
        "--subject",
        "rv",
        "--body",
        "x",
        "--json",
    )
    assert sent.code == 0, sent.stderr
    assert cli("sync", "-a", "alice-revoked").code == 0
    grant = stored_grant(cli, "alice-revoked")
    revoke(oidc, grant["refresh_token"])
    # The stored access token dies with the grant; make it look stale so a refresh is tried.
    write_grant(cli, "alice-revoked", {**grant, "expires_at": time.time() - 1})
    rid = bob_replies(cli, sandbox, sent.json()["message_id"], "while-revoked")

    doctor = cli("doctor", "-a", "alice-revoked", "--json")
    assert doctor.code == 1
    checks = {c["id"]: c for c in doctor.json()["accounts"][0]["checks"]}
    assert checks["oauth-refresh"]["status"] == "fail"
    assert checks["oauth-refresh"]["reason"] == "oauth-consent-revoked"
    assert "--auth oauth2" in checks["oauth-refresh"]["fix"]

    synced = cli("sync", "-a", "alice-revoked")
    assert synced.code == 3
    assert "Consent was revoked" in synced.stderr
    assert "hubsync connect alice-revoked --auth oauth2" in synced.stderr
    assert not logged(cli, rid)

    code, _, stderr = connect(cli, sandbox, oidc, "alice-revoked")  # sign in again
    assert code == 0, stderr
    assert cli("sync", "-a", "alice-revoked").code == 0
    assert logged(cli, rid)  # nothing was lost


def test_denied_consent_saves_nothing(cli, sandbox, oidc):
    code, lines, stderr = connect(cli, sandbox, oidc, "alice-denied", consent=False)
    assert code == 3
    assert "declined" in stderr
    assert stored_grant(cli, "alice-denied") is None
    assert "alice-denied" not in cli("accounts", "list", "--json").stdout


def test_a_token_for_another_user_is_refused_with_the_servers_error(cli, sandbox, oidc):
    code, lines, stderr = connect(
        cli, sandbox, oidc, "alice-wrong", login="bob@customer.test", password="bob-sandbox-pw"
    )
    assert code == 3
    [event, error] = lines  # one JSON object for the failure, with the steps inside it
    assert event["event"] == "authorization-url"
    assert error["connect"]["ok"] is False
    assert error["error"] == "oauth-token-refused"
    assert error["oauth_status"] == "invalid_token"
    assert "refused the OAuth2 token" in stderr
    assert "invalid_token" in stderr  # the JSON error from the server's challenge
    assert stored_grant(cli, "alice-wrong") is None


def test_browser_sign_in_that_never_comes_times_out(cli, sandbox, oidc):
    args = [
        *oauth_connect_args(sandbox, oidc, "alice-slow"),
        "--oauth-flow",
        "browser",
        "--oauth-timeout",
        "1",
    ]
    result = cli(*args, timeout=60)
    assert result.code == 3  # a person must act
    assert "No sign-in arrived within 1 s" in result.stderr
    assert stored_grant(cli, "alice-slow") is None


def test_token_command_supplies_the_access_token(cli, sandbox, oidc, tmp_path):
    """For organisations that hand out tokens another way: no sign-in, nothing in the keyring."""
    from hubsync.oauth import discovery, flows
    from hubsync.oauth.tokens import Client

    endpoints = discovery.discover(oidc.issuer)

    def on_url(url: str) -> None:
        threading.Thread(
            target=Browser().authorize, args=(url, ALICE, ALICE_PW), daemon=True
        ).start()

    tokens = flows.browser_flow(
        endpoints, Client(DESKTOP_CLIENT, SCOPES), "t", on_url, open_browser=False, timeout=30
    )
    token_file = tmp_path / "token"
    token_file.write_text(tokens.access_token + "\n")
    args = [a for a in oauth_connect_args(sandbox, oidc, "alice-cmd") if a != "--json"]
    drop = {"--oauth-issuer", "--oauth-client-id", "--scope"}
    kept, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in drop:
            skip = True
            continue
        kept.append(a)
    result = cli(*kept, "--oauth-token-command", f"cat {token_file}")
    assert result.code == 0, result.stderr
    assert "tokens come from oauth_token_command" in result.stdout
    assert stored_grant(cli, "alice-cmd") is None
    assert cli("sync", "-a", "alice-cmd").code == 0
    assert tokens.access_token not in result.stdout + result.stderr


def test_doctor_names_what_is_wrong_with_a_sign_in(cli, sandbox, oidc):
    code, _, stderr = connect(cli, sandbox, oidc, "alice-doc")
    assert code == 0, stderr

    def oauth_checks() -> dict:
        found = cli("doctor", "-a", "alice-doc", "--json").json()["accounts"][0]["checks"]
        return {c["id"]: (c["status"], c["reason"]) for c in found if c["id"].startswith("oauth")}

    assert oauth_checks() == {"oauth": ("pass", "ok"), "oauth-refresh": ("pass", "ok")}
    grant = stored_grant(cli, "alice-doc")

    # a scope asked for but not granted
    edit_account(cli, "alice-doc", oauth_scopes=[*grant["scope"].split(), "mail.admin"])
    assert oauth_checks()["oauth-refresh"] == ("fail", "oauth-scope-missing")
    edit_account(cli, "alice-doc", oauth_scopes=grant["scope"].split())

    # the token endpoint cannot be reached
    token_url = tomllib.loads((cli.home / "config.toml").read_text())["accounts"]["alice-doc"][
        "oauth_token_url"
    ]
    edit_account(cli, "alice-doc", oauth_token_url="https://127.0.0.1:9/token")
    assert oauth_checks()["oauth-refresh"] == ("fail", "oauth-unreachable")
    edit_account(cli, "alice-doc", oauth_token_url=None)
    assert oauth_checks()["oauth"] == ("fail", "oauth-incomplete")
    edit_account(cli, "alice-doc", oauth_token_url=token_url)

    # a sign-in without a refresh token: works until the access token expires
    write_grant(cli, "alice-doc", {**grant, "refresh_token": ""})
    assert oauth_checks()["oauth"] == ("warn", "oauth-no-refresh-token")

    # a password where the sign-in should be, then nothing at all
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import keyring; keyring.set_password('hubsync', 'alice-doc', 'pw')",
        ],
        env=cli.env,
        check=True,
        timeout=30,
    )
    assert oauth_checks()["oauth"] == ("fail", "oauth-not-signed-in")
    assert cli("accounts", "remove", "alice-doc", "--yes").code == 0
    code, _, stderr = connect(cli, sandbox, oidc, "alice-doc")
    assert code == 0, stderr
    subprocess.run(
        [sys.executable, "-c", "import keyring; keyring.delete_password('hubsync', 'alice-doc')"],
        env=cli.env,
        check=True,
        timeout=30,
    )
    assert oauth_checks()["oauth"] == ("fail", "secret-missing")
