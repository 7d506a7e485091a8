"""Discovery and probe failures are named by their first real cause (pure, in process)."""

from hubsync.mail.discovery import Candidate, Discovery
from hubsync.mail.discovery_verdict import explain
from hubsync.mail.probe import PortReport, judge

UNTRUSTED = "certificate not trusted for mail.example.test: unable to get local issuer certificate"


def found(*candidates: Candidate, guesses: tuple[Candidate, ...] = ()) -> Discovery:
    return Discovery(
        "alice@example.test", "example.test", candidates=list(candidates), guesses=list(guesses)
    )


def test_an_untrusted_certificate_is_named_with_the_cafile_fix():
    result = explain(
        found(
            Candidate("imap", "mail.example.test", 993, "ssl", "srv", answers=True, check=UNTRUSTED,
                      failure="certificate"),
            guesses=(
                Candidate("imap", "imap.example.test", 993, "ssl", "guess",
                          check="imap.example.test does not resolve: Name or service not known.",
                          failure="dns"),
            ),
        ),
        "imap",
        "--imap",
    )  # fmt: skip
    assert result.reason == "certificate-untrusted"
    assert "mail.example.test:993" in result.cause and "unable to get local issuer" in result.cause
    assert "--cafile" in result.fix and "--imap-host" not in result.fix
    assert len(result.tried) == 2  # the failed guess is listed as tried too


def test_hosts_that_do_not_resolve_say_check_the_spelling():
    dns = "does not resolve: Name or service not known."
    result = explain(
        found(
            guesses=(
                Candidate("imap", "imap.exmaple.test", 993, "ssl", "guess",
                          check=f"imap.exmaple.test {dns}", failure="dns"),
                Candidate("imap", "mail.exmaple.test", 993, "ssl", "guess",
                          check=f"mail.exmaple.test {dns}", failure="dns"),
            )
        ),
        "imap",
        "--imap",
    )  # fmt: skip
    assert result.reason == "dns" and "spelling" in result.fix
    assert "imap.exmaple.test, mail.exmaple.test" in result.cause


def test_nothing_to_try_says_what_was_looked_at():
    result = explain(found(), "smtp", "--smtp")
    assert result.reason == "not-found" and result.tried == []
    for source in ("provider", "SRV", "autoconfig", "MX"):
        assert source in result.cause
    assert "--smtp-host and --smtp-port" in result.fix


def test_a_refused_port_is_said_as_unreachable():
    result = explain(
        found(
            Candidate(
                "imap", "mail.example.test", 993, "ssl", "srv", check="refused", failure="refused"
            )
        ),
        "imap",
        "--imap",
    )
    assert result.reason == "unreachable" and "mail.example.test:993 refused" in result.cause


def test_probe_of_a_host_that_does_not_resolve_says_so_once():
    error = "mail.exmaple.test does not resolve: Name or service not known."
    reports = [
        PortReport(port=p, open=False, error=error, reason="dns")
        for p in (993, 143, 995, 110, 465, 587)
    ]
    report = judge("mail.exmaple.test", reports)
    assert report.resolves is False and report.verdict == "none"
    assert report.explanation.count("does not resolve") == 1
    assert "spelling" in report.explanation and "No IMAP or POP3" not in report.explanation
    assert (
        judge("h", [PortReport(port=993, open=False, error="refused", reason="refused")]).resolves
        is True
    )
