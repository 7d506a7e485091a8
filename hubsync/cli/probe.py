"""`hubsync probe HOST`: what listens on a host's mail ports."""

import typer

from hubsync import render
from hubsync.cli import options
from hubsync.mail.probe import DEFAULT_PORTS, ProbeReport, probe
from hubsync.render import emit_json, out, safe


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("probe")(probe_command)


def probe_command(
    host: str = typer.Argument(
        ..., metavar="HOST", help="Host name or address of the mail server."
    ),
    port: list[int] = typer.Option(
        None,
        "--port",
        "-p",
        metavar="PORT",
        help="Port to check (repeatable). Default: 993 143 995 110 465 587.",
    ),
    timeout: float = typer.Option(
        10.0, "--timeout", metavar="SECONDS", min=0.5, help="Seconds allowed per port."
    ),
    cafile: str = options.cafile(),
    json_out: bool = options.json_out(),
) -> None:
    """Tell IMAP from POP3 and SMTP on HOST's ports, with TLS mode, certificate and capabilities.

    Never sends credentials. Exit 0 when an IMAP service with TLS was found, 1 otherwise.
    """
    report = probe(host, tuple(port) if port else DEFAULT_PORTS, timeout, cafile)
    if json_out:
        emit_json(report.to_dict())
    else:
        show(report)
    raise typer.Exit(0 if report.verdict == "imap" else 1)


def show(report: ProbeReport) -> None:
    """Render a probe report."""
    if not report.resolves:  # one sentence, not the same DNS error once per port
        out.print(f"[bold red]Verdict: {report.verdict}[/bold red]")
        out.print(safe(report.explanation))
        return
    table = render.table(
        f"Probe of {safe(report.host)}",
        *("port", "open", "protocol", "TLS", "certificate", "capabilities"),
    )
    for r in report.ports:
        cert = ""
        if r.certificate:
            c = r.certificate
            trust = (
                "[green]trusted[/green]"
                if c.trusted
                else f"[red]untrusted[/red] ({safe(c.verify_error)})"
            )
            name = "" if c.matches_host else " [red]name mismatch[/red]"
            expiry = f"expires {c.not_after[:10]}" + (" [red]EXPIRED[/red]" if c.expired else "")
            cert = f"{safe(c.subject)}\nby {safe(c.issuer)}\n{trust}{name}\n{expiry}"
        state = "[green]yes[/green]" if r.open else f"[red]no[/red]\n{safe(r.error)}"
        if r.open and r.error:
            state += f"\n[yellow]{safe(r.error)}[/yellow]"
        caps = safe(" ".join(r.capabilities[:12])) + (" …" if len(r.capabilities) > 12 else "")
        table.add_row(str(r.port), state, safe(r.protocol or "-"), safe(r.tls or "-"), cert, caps)
    render.show(table)
    colour = {"imap": "green", "pop3-only": "yellow"}.get(report.verdict, "red")
    out.print(f"[bold {colour}]Verdict: {report.verdict}[/bold {colour}]")
    out.print(safe(report.explanation))
    if report.verdict == "imap" and report.smtp:
        mode = "SSL/TLS" if report.smtp.tls == "implicit" else "STARTTLS"
        out.print(f"SMTP submission: port {report.smtp.port} with {mode}.")
