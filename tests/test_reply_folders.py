"""Which folders a reply can land in (pure function): the folder plan an account reads."""

import unicodedata

from hubsync.mail.reply_folders import is_all_setting, reply_folders
from hubsync.mail.sent_folder import Folder, resolve_sent_folder


def folders(*rows, delimiter="/"):
    return [Folder(name, tuple(flags), delimiter) for name, *flags in rows]


SWEDISH_GMAIL = folders(
    ("INBOX",),
    ("Kunder",),  # a user label: "skip the inbox" filters file replies here
    ("[Gmail]", "\\HasChildren", "\\Noselect"),
    ("[Gmail]/Alla mail", "\\All"),
    ("[Gmail]/Skickat", "\\Sent"),
    ("[Gmail]/Skräppost", "\\Junk"),
    ("[Gmail]/Papperskorgen", "\\Trash"),
    ("[Gmail]/Utkast", "\\Drafts"),
    ("[Gmail]/Stjärnmärkt", "\\Flagged"),
)


def test_gmail_in_any_language_reads_all_mail_and_sent_only():
    plan = reply_folders(SWEDISH_GMAIL, ["*"], "[Gmail]/Skickat")
    assert plan.primary == "[Gmail]/Alla mail"
    assert plan.folders == ["[Gmail]/Alla mail", "[Gmail]/Skickat"]
    assert "Alla mail" in plan.skipped["Kunder"], "a label's mail is in All Mail too"
    assert plan.covered == ["INBOX", "Kunder"], "spam and trash are not in All Mail"
    assert "Junk" in plan.skipped["[Gmail]/Skräppost"]


def test_without_all_mail_every_folder_but_junk_trash_and_drafts_is_read():
    listing = folders(
        ("INBOX",),
        ("INBOX.Customers",),
        ("INBOX.Sentinel reports",),  # not a sent folder, not skipped either
        ("INBOX.Trash",),  # no special-use attributes: known by name
        ("INBOX.Spam",),
        ("INBOX.Drafts", "\\Drafts"),
        ("INBOX.Archive", "\\Archive"),
        ("INBOX.Sent",),
        ("Shared", "\\Noselect"),
        delimiter=".",
    )
    plan = reply_folders(listing, ["all"], "INBOX.Sent")
    assert plan.primary == "INBOX"
    assert plan.folders == [
        "INBOX",
        "INBOX.Customers",
        "INBOX.Sentinel reports",
        "INBOX.Archive",
        "INBOX.Sent",
    ]
    assert set(plan.skipped) == {"INBOX.Trash", "INBOX.Spam", "INBOX.Drafts", "Shared"}


def test_excluded_folders_are_never_read_and_say_why():
    listing = folders(("INBOX",), ("Newsletters",), ("Customers",), ("Sent", "\\Sent"))
    plan = reply_folders(listing, ["*"], "Sent", excluded=["Newsletters"])
    assert plan.folders == ["INBOX", "Customers", "Sent"]
    assert plan.skipped["Newsletters"] == "excluded by the account's settings"


def test_inbox_is_read_even_when_the_server_leaves_it_out_of_list():
    plan = reply_folders(folders(("Customers",), ("Sent", "\\Sent")), ["*"], "Sent")
    assert plan.folders == ["INBOX", "Customers", "Sent"]


def test_a_fixed_list_keeps_its_order_adds_sent_and_names_what_is_missing():
    listing = folders(("INBOX",), ("Customers",), ("Sent", "\\Sent"))
    plan = reply_folders(listing, ["inbox", "Customers", "Gone"], "Sent")
    assert plan.folders == ["INBOX", "Customers", "Gone", "Sent"]
    assert plan.missing == ["Gone"]
    assert reply_folders([], ["INBOX"], "Sent").folders == ["INBOX", "Sent"]


def test_decomposed_unicode_names_match_their_composed_settings_in_the_servers_spelling():
    nfd = unicodedata.normalize("NFD", "INBOX.Éléments envoyés")
    kunder = unicodedata.normalize("NFD", "INBOX.Kundärenden")
    listing = folders(("INBOX",), (nfd,), (kunder,), delimiter=".")
    # The Sent folder is recognised by name whatever the normalization form...
    sent = resolve_sent_folder(listing)
    assert (sent.folder, sent.rule) == (nfd, "name")
    # ...and a composed setting finds the decomposed folder, named as the server spells it.
    plan = reply_folders(listing, ["INBOX", "INBOX.Kundärenden"], sent.folder)
    assert plan.folders == ["INBOX", kunder, nfd]
    assert reply_folders(listing, ["*"], "INBOX.Éléments envoyés").folders.count(nfd) == 1


def test_configured_sent_folder_in_composed_form_finds_the_decomposed_folder():
    nfd = unicodedata.normalize("NFD", "Éléments envoyés")
    result = resolve_sent_folder(folders(("INBOX",), (nfd,)), "Éléments envoyés")
    assert (result.folder, result.rule) == (nfd, "config")


def test_all_setting_spellings():
    assert is_all_setting(["*"]) and is_all_setting(["ALL"]) and is_all_setting([" all "])
    assert not is_all_setting(["INBOX"]) and not is_all_setting(["Allmänt"])
