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
    configured = resolve_sent_folder(listing, "Archive/Outgoing")
    assert (configured.folder, configured.rule) == ("Archive/Outgoing", "config")
    missing = resolve_sent_folder(listing, "Nope")
    assert missing.folder is None and "Nope" in missing.explanation


def test_exact_name_beats_word_match_and_outbox_is_last():
    listing = folders(("Outbox",), ("Sent 2023",), ("Sent",))
    assert resolve_sent_folder(listing).folder == "Sent"
    assert resolve_sent_folder(folders(("Outbox",), ("Sent 2023",))).folder == "Sent 2023"


@pytest.mark.parametrize("label", ["Sentinel", "Consent forms", "Resent", "Dissent", "sentry"])
def test_labels_that_only_contain_the_letters_are_not_sent(label):
    assert name_rank(label) is None


HOW_TO_SET = (
    'Set it with `sent_folder = "NAME"` under your account in config.toml, or '
    "`hubsync connect ... --sent-folder NAME`. Folders seen: "
)


def test_each_rule_reports_folder_rule_candidates_and_explanation():
    listing = folders(("INBOX",), ("Sent Items",), ("Archive", "\\Sent"), ("Sent",))
    chosen = resolve_sent_folder(listing)
    assert (chosen.folder, chosen.rule) == ("Archive", "special-use")
    assert chosen.candidates == ["Archive", "Sent", "Sent Items"]
    assert chosen.explanation == "'Archive' carries the \\Sent attribute (RFC 6154)."

    configured = resolve_sent_folder(listing, "Sent Items")
    assert (configured.folder, configured.rule) == ("Sent Items", "config")
    assert configured.candidates == ["Archive", "Sent", "Sent Items"]
    assert configured.explanation == "'Sent Items' is set as sent_folder in config.toml."

    missing = resolve_sent_folder(listing, "Nope")
    assert (missing.folder, missing.rule) == (None, None)
    assert missing.candidates == ["Archive", "Sent", "Sent Items"]
    assert missing.explanation == (
        "sent_folder 'Nope' is set in config.toml but the server has no such folder. "
        + HOW_TO_SET
        + "'Archive', 'Sent', 'Sent Items'."
    )

    by_name = resolve_sent_folder(folders(("INBOX",), ("Sent Items",), ("Sent",)))
    assert (by_name.folder, by_name.rule) == ("Sent", "name")
    assert by_name.candidates == ["Sent", "Sent Items"]
    assert by_name.explanation == "No folder carries \\Sent; 'Sent' is named like a sent folder."

    nothing = resolve_sent_folder(folders(("INBOX",), ("Work",)))
    assert (nothing.folder, nothing.rule, nothing.candidates) == (None, None, [])
    assert nothing.explanation == (
        "No folder carries \\Sent and none is named like a sent folder. "
        + HOW_TO_SET
        + "'INBOX', 'Work'."
    )
    empty = resolve_sent_folder([])
    assert empty.explanation.endswith("Folders seen: none.")


def test_the_advice_lists_at_most_twelve_folders():
    listing = folders(*[(f"Folder {n:02d}",) for n in range(14)])
    explanation = resolve_sent_folder(listing).explanation
    assert "'Folder 11'" in explanation and "'Folder 12'" not in explanation


def test_a_known_name_with_more_words_ranks_by_the_known_name_after_every_exact_one():
    assert name_rank("Sent 2023") < name_rank("Skickat 2023")
    listing = folders(("Skickat 2023",), ("Sent 2023",))
    assert resolve_sent_folder(listing).folder == "Sent 2023"
    assert name_rank("Outbox") > name_rank("Sent 2023") > name_rank("Skickat")


@pytest.mark.parametrize("label", ["Outbox 2", "outbox-old", "Outbox archive"])
def test_an_outbox_with_more_words_is_not_a_sent_folder(label):
    assert name_rank(label) is None
