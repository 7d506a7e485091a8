"""Attachments: the size limit and the switch (set per account), skipped attachments shown
with the reason, and a stored attachment saved back out under a safe name."""

import json
import re

from mail_factory import make

CONFIG = (
    '[accounts.a]\nemail = "alice@example.test"\nusername = "alice"\nimap_host = "h"\n'
    'imap_port = 993\ncredential_source = "none"\n'
)
EVIL = "../../inv\u202efdp.exe"  # a directory climb and a right-to-left override


def setup(run_cli, tmp_path):
    run_cli.home.mkdir(parents=True, exist_ok=True)
    (run_cli.home / "config.toml").write_text(CONFIG)
    eml = tmp_path / "a.eml"
    eml.write_bytes(make("<a1@customer.test>", attachment=(EVIL, b"%PDF-1.7 quote")))
    assert run_cli("log", str(eml)).code == 0


def test_saved_under_a_safe_name_never_overwriting(run_cli, tmp_path):
    setup(run_cli, tmp_path)
    threads = json.loads(run_cli("threads", "--json").stdout)
    stored = threads["threads"][0]["messages"][0]["attachments"][0]
    out_dir = tmp_path / "out"
    first = json.loads(
        run_cli("attachments", "save", str(stored["id"]), "--to", str(out_dir), "--json").stdout
    )
    second = json.loads(
        run_cli("attachments", "save", stored["sha256"][:10], "--to", str(out_dir), "--json").stdout
    )
    names = sorted(p.name for p in out_dir.iterdir())
    assert len(names) == 2 and all("/" not in n and "\u202e" not in n for n in names)
    assert first["path"] != second["path"] and second["path"].endswith(" (2).exe")
    assert {p.read_bytes() for p in out_dir.iterdir()} == {b"%PDF-1.7 quote"}
    assert (tmp_path / "out").resolve() == type(out_dir)(first["path"]).parent.resolve()
    missing = run_cli("attachments", "save", "deadbeefdead", "--to", str(out_dir), "--json")
    assert missing.code == 1 and json.loads(missing.stdout)["error"] == "no-attachment"


def test_limit_set_per_account_and_skipped_attachments_shown_with_the_reason(run_cli, tmp_path):
    setup(run_cli, tmp_path)
    changed = run_cli("accounts", "set", "a", "--attachment-limit-mb", "0.001", "--json")
    assert json.loads(changed.stdout)["settings"]["attachment_limit_mb"] == 0.001
    big = tmp_path / "b.eml"
    big.write_bytes(make("<b1@customer.test>", subject="Big", attachment=("plan.pdf", b"x" * 4000)))
    assert run_cli("log", str(big)).code == 0
    shown = run_cli("threads").stdout
    assert re.search(r"attachments not logged: the email is \d KB, over the 1 KB limit", shown)
    contact = run_cli("contacts", "bob@customer.test").stdout
    assert "attachments not logged" in contact
    data = json.loads(run_cli("threads", "--json").stdout)
    big_thread = next(t for t in data["threads"] if t["subject"] == "Big")
    assert big_thread["messages"][0]["attachments"] == []
    run_cli("accounts", "set", "a", "--no-log-attachments", "--attachment-limit-mb", "50")
    off = tmp_path / "c.eml"
    off.write_bytes(make("<c1@customer.test>", subject="Off", attachment=("s.pdf", b"tiny")))
    assert run_cli("log", str(off)).code == 0
    assert "attachment logging is switched off" in run_cli("threads").stdout
    assert "log_attachments = false" in (run_cli.home / "config.toml").read_text()
