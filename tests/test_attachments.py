"""Attachments: the size limit and the switch (set per account), skipped attachments shown
with the reason, and a stored attachment saved back out under a safe name."""

import hashlib
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
    out_dir.mkdir()
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


def test_a_planted_symlink_is_never_written_through(run_cli, tmp_path):
    setup(run_cli, tmp_path)
    stored = json.loads(run_cli("threads", "--json").stdout)["threads"][0]["messages"][0]
    attachment = stored["attachments"][0]
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)
    victim = tmp_path / "victim.bashrc"
    victim.write_text("# my shell settings\n")
    victim.chmod(0o644)
    # Another user plants links under every name the save could use (the sender chose it).
    name = "_.._inv_fdp.exe"  # what the sender's "../../inv\u202efdp.exe" is saved as
    for planted in (name, f"{name}.part", "_.._inv_fdp (2).exe", "_.._inv_fdp (2).exe.part"):
        (shared / planted).symlink_to(victim)
    saved = run_cli("attachments", "save", str(attachment["id"]), "--to", str(shared), "--json")
    assert saved.code == 0, saved.stdout + saved.stderr
    path = type(shared)(json.loads(saved.stdout)["path"])
    assert victim.read_text() == "# my shell settings\n", "the link's target is untouched"
    assert victim.stat().st_mode & 0o777 == 0o644
    assert path.name == "_.._inv_fdp (3).exe" and not path.is_symlink()
    assert path.read_bytes() == b"%PDF-1.7 quote" and path.stat().st_mode & 0o777 == 0o600
    assert shared.stat().st_mode & 0o7777 == 0o1777, "an existing folder keeps its mode"
    assert not [p for p in shared.iterdir() if p.name.startswith(".hubsync-")]


def test_a_long_non_ascii_name_is_cut_to_fit_the_file_system(run_cli, tmp_path):
    from hubsync.attachment_export import safe_name

    name = safe_name("ж" * 150 + ".pdf", "ab" * 32)
    assert name.endswith(".pdf") and len(name.encode()) <= 200
    assert safe_name("x" * 300, "cd" * 32) == "x" * 200
    (tmp_path / name).write_bytes(b"fits")  # the file system takes it


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


def test_attachments_list_gives_the_ids_save_takes(run_cli, tmp_path):
    setup(run_cli, tmp_path)
    listed = json.loads(run_cli("attachments", "list", "--json").stdout)["attachments"]
    [row] = listed
    assert row["filename"] and row["size"] == len(b"%PDF-1.7 quote")
    assert row["sha256"] == hashlib.sha256(b"%PDF-1.7 quote").hexdigest()
    by_thread = run_cli("attachments", "list", "--thread", str(row["thread_id"]), "--json")
    assert [r["id"] for r in json.loads(by_thread.stdout)["attachments"]] == [row["id"]]
    other = run_cli("attachments", "list", "--thread", str(row["thread_id"] + 99), "--json")
    assert json.loads(other.stdout)["attachments"] == []
    by_message = run_cli("attachments", "list", "--message", str(row["message"]))
    assert str(row["id"]) in by_message.stdout and row["sha256"][:12] in by_message.stdout
    why = run_cli("why", str(row["message"]), "--offline", "--json")  # the message's id works
    assert json.loads(why.stdout)["message_id"] == row["message_id"]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    saved = run_cli("attachments", "save", str(row["id"]), "--to", str(out_dir), "--json")
    assert saved.code == 0 and json.loads(saved.stdout)["sha256"] == row["sha256"]


def test_save_into_a_missing_folder_creates_nothing(run_cli, tmp_path):
    setup(run_cli, tmp_path)
    [row] = json.loads(run_cli("attachments", "list", "--json").stdout)["attachments"]
    target = tmp_path / "no" / "such" / "dir"
    saved = run_cli("attachments", "save", str(row["id"]), "--to", str(target))
    assert saved.code == 2 and "not an existing folder" in saved.stderr
    assert not (tmp_path / "no").exists()
