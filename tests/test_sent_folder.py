"""Sent-folder resolution on realistic folder lists (pure function)."""

import pytest

from hubsync.mail.sent_folder import Folder, name_rank, resolve_sent_folder


def folders(*rows, delimiter="/"):
    return [Folder(name, tuple(flags), delimiter) for name, *flags in rows]


def test_gmail_localized_with_special_use():
    listing = folders(
        ("INBOX",),
        ("[Gmail]", "\\HasChildren", "\\Noselect"),
        ("[Gmail]/Alle Nachrichten", "\\All"),
        ("[Gmail]/Entwürfe", "\\Drafts"),
        ("[Gmail]/Gesendet", "\\Sent"),
        ("[Gmail]/Papierkorb", "\\Trash"),
        ("Sentinel reports",),
    )
    result = resolve_sent_folder(listing)
    assert (result.folder, result.rule) == ("[Gmail]/Gesendet", "special-use")


def test_outlook_sent_items_and_translations_by_name():
    for name in (
        "Sent Items",
        "Gesendete Elemente",
        "Éléments envoyés",
        "Elementos enviados",
        "Verzonden items",
        "Skickade objekt",
        "Posta inviata",
        "Wysłane",
    ):
        listing = folders(("Inbox",), ("Consent forms",), (name,), ("Deleted Items",))
        result = resolve_sent_folder(listing)
        assert (result.folder, result.rule) == (name, "name"), name


def test_dot_separator_namespace_prefix():
    listing = folders(
        ("INBOX",), ("INBOX.Drafts",), ("INBOX.Sentinel",), ("INBOX.Sent",), delimiter="."
    )
    assert resolve_sent_folder(listing).folder == "INBOX.Sent"


def test_noselect_parent_is_skipped():
    listing = folders(
        ("INBOX",),
        ("Sent", "\\Noselect", "\\HasChildren", "\\Sent"),
        ("Sent/2024", "\\HasNoChildren"),
        ("Sent Messages",),
    )
    result = resolve_sent_folder(listing)
    assert result.folder == "Sent Messages"
    assert result.rule == "name"


def test_sent_attribute_on_plain_list_without_special_use_capability():
    # Zoho-like: \Sent arrives on LIST although SPECIAL-USE is not advertised.
    listing = folders(("INBOX",), ("Sent",), ("Sent Mail", "\\Sent"))
    assert resolve_sent_folder(listing).folder == "Sent Mail"


def test_decoys_only_gives_no_folder_and_advice():
    listing = folders(("INBOX",), ("Sentinel reports",), ("Consent forms",), ("Resent",))
    result = resolve_sent_folder(listing)
    assert result.folder is None
    assert "sent_folder" in result.explanation
    assert "Sentinel reports" in result.explanation  # lists what it saw


def test_configured_folder_wins_and_missing_configured_is_reported():
    listing = folders(("INBOX",), ("Sent", "\\Sent"), ("Archive/Outgoing",))
    assert resolve_sent_folder(listing, "Archive/Outgoing").rule == "config"
    missing = resolve_sent_folder(listing, "Nope")
    assert missing.folder is None and "Nope" in missing.explanation


def test_exact_name_beats_word_match_and_outbox_is_last():
    listing = folders(("Outbox",), ("Sent 2023",), ("Sent",))
    assert resolve_sent_folder(listing).folder == "Sent"
    assert resolve_sent_folder(folders(("Outbox",), ("Sent 2023",))).folder == "Sent 2023"


@pytest.mark.parametrize("label", ["Sentinel", "Consent forms", "Resent", "Dissent", "sentry"])
def test_labels_that_only_contain_the_letters_are_not_sent(label):
    assert name_rank(label) is None
