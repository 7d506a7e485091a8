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


def test_the_primary_folder_is_inbox_in_the_servers_spelling_else_the_first_named():
    assert reply_folders([], ["Customers", "Archive"]).primary == "Customers"
    second = reply_folders([], ["Archive", "inbox"])
    assert (second.primary, second.folders) == ("INBOX", ["Archive", "INBOX"])  # order kept
    plan = reply_folders([], [])
    assert (plan.primary, plan.folders, plan.missing) == ("INBOX", ["INBOX"], [])
    assert reply_folders([], ["INBOX"]).folders == ["INBOX"]  # no Sent folder given: none read
    listed = [Folder("Inbox"), Folder("Sent", ("\\Sent",))]
    fixed = reply_folders(listed, ["INBOX"], "Sent")
    assert (fixed.primary, fixed.folders, fixed.missing) == ("Inbox", ["Inbox", "Sent"], [])
    assert reply_folders(listed, ["Gone"]).missing == ["Gone"]
    everything = reply_folders([Folder("Archive"), Folder("INBOX"), Folder("Sent")], ["*"], "Sent")
    assert everything.primary == "INBOX" and everything.folders[0] == "INBOX"


def test_all_mail_is_the_primary_and_says_what_it_covers():
    listing = [
        Folder("INBOX"),
        Folder("Customers"),
        Folder("[Gmail]/All Mail", ("\\All",)),
        Folder("[Gmail]/Sent Mail", ("\\Sent",)),
        Folder("[Gmail]/Spam", ("\\Junk",)),
        Folder("Old", ("\\Noselect",)),
    ]
    plan = reply_folders(listing, ["*"], "[Gmail]/Sent Mail", ["Customers"])
    assert plan.primary == "[Gmail]/All Mail"
    assert plan.folders == ["[Gmail]/All Mail", "[Gmail]/Sent Mail"]
    assert plan.skipped == {
        "Customers": "excluded by the account's settings",
        "INBOX": "its messages are in [Gmail]/All Mail too",
        "[Gmail]/Spam": "it is the Junk folder",
        "Old": "it cannot be selected (\\Noselect)",
    }
    assert plan.covered == ["INBOX"]


def test_why_a_folder_is_left_out_in_words():
    listing = [
        Folder("INBOX"),
        Folder("Papierkorb"),
        Folder("INBOX.Junk", (), "."),
        Folder("X", ("\\Noselect",)),
    ]
    plan = reply_folders(listing, ["*"], excluded=["Ignored"])
    assert plan.skipped == {
        "Ignored": "excluded by the account's settings",  # not on the server: as typed
        "Papierkorb": "it is named like a papierkorb folder",
        "INBOX.Junk": "it is named like a junk folder",
        "X": "it cannot be selected (\\Noselect)",
    }
    decomposed = unicodedata.normalize("NFD", "Caf\u00e9")
    by_server = reply_folders([Folder(decomposed), Folder("INBOX")], ["*"], excluded=["Caf\u00e9"])
    assert list(by_server.skipped) == [decomposed]  # named as the server spells it
