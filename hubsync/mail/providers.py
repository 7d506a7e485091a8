"""What hubsync knows about the big mail providers: servers, quirks and what users must do."""

from dataclasses import dataclass, field

from hubsync.mail.endpoint import Endpoint


@dataclass(frozen=True)
class OAuthSettings:
    """How a provider's OAuth2 sign-in works (check against its current documentation)."""

    issuer: str
    scopes: tuple[str, ...]
    mechanism: str  # the SASL mechanism to try first
    extra_params: tuple[tuple[str, str], ...] = ()  # added to the authorization URL
    device_flow: bool = True  # whether its device flow grants the mail scopes
    registration: str = ""  # where to register a client ID (docs/oauth.md has the steps)


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    domains: tuple[str, ...]
    mx_suffixes: tuple[str, ...]
    imap: Endpoint
    smtp: Endpoint
    files_sent_copy: bool | None  # does SMTP submission land in Sent by itself?
    sent_folder_note: str
    login_hint: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    oauth: OAuthSettings | None = None


PROVIDERS = (
    Provider(
        "gmail",
        "Gmail / Google Workspace",
        ("gmail.com", "googlemail.com"),
        ("google.com", "googlemail.com"),
        Endpoint("imap.gmail.com", 993, "ssl"),
        Endpoint("smtp.gmail.com", 465, "ssl"),
        True,
        "'[Gmail]/Sent Mail', localized ('[Gmail]/Gesendet', ...); has \\Sent",
        "With 2-Step Verification on, create an app password (Google Account > Security > "
        "App passwords) or use OAuth; 'Please log in via your web browser' means Google "
        "blocked the sign-in: sign in once on the web and confirm it was you.",
        (
            "At most 15 simultaneous IMAP connections.",
            "Daily limits: 2500 MB download, 500 MB upload over IMAP.",
        ),
        OAuthSettings(
            issuer="https://accounts.google.com",
            scopes=("https://mail.google.com/",),
            mechanism="XOAUTH2",
            extra_params=(("access_type", "offline"), ("prompt", "consent")),
            device_flow=False,  # Google's device flow does not grant the mail scope
            registration="Google Cloud console > APIs & Services > Credentials > Create "
            "OAuth client ID > Desktop app",
        ),
    ),
    Provider(
        "microsoft",
        "Microsoft 365 / Outlook.com",
        ("outlook.com", "hotmail.com", "live.com", "msn.com", "office365.com"),
        ("protection.outlook.com", "outlook.com", "hotmail.com"),
        Endpoint("outlook.office365.com", 993, "ssl"),
        Endpoint("smtp.office365.com", 587, "starttls"),
        True,
        "'Sent Items' (localized, e.g. 'Gesendete Elemente'); has \\Sent",
        "Microsoft has turned basic (password) authentication off for most tenants: an "
        "admin must allow IMAP and SMTP AUTH for the mailbox, or the account needs OAuth. "
        "Outlook.com personal accounts need OAuth2.",
        (
            "Folders over about 100,000 items slow Exchange down.",
            "SMTP '5.7.139 SmtpClientAuthentication is disabled for the Tenant' is a tenant "
            "setting.",
        ),
        OAuthSettings(
            issuer="https://login.microsoftonline.com/common/v2.0",
            scopes=(
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "https://outlook.office.com/SMTP.Send",
                "offline_access",
            ),
            mechanism="XOAUTH2",
            registration="Microsoft Entra admin center > App registrations > New "
            "registration; Authentication > Mobile and desktop applications > "
            "http://localhost; Allow public client flows: Yes",
        ),
    ),
    Provider(
        "icloud",
        "iCloud Mail",
        ("icloud.com", "me.com", "mac.com"),
        ("icloud.com",),
        Endpoint("imap.mail.me.com", 993, "ssl"),
        Endpoint("smtp.mail.me.com", 587, "starttls"),
        None,
        "'Sent Messages'",
        "iCloud needs an app-specific password (appleid.apple.com > Sign-In and Security).",
    ),
    Provider(
        "yahoo",
        "Yahoo Mail",
        ("yahoo.com", "ymail.com", "rocketmail.com"),
        ("yahoodns.net",),
        Endpoint("imap.mail.yahoo.com", 993, "ssl"),
        Endpoint("smtp.mail.yahoo.com", 465, "ssl"),
        False,
        "'Sent'",
        "Yahoo needs an app password (Account Security > Generate app password).",
    ),
    Provider(
        "aol",
        "AOL Mail",
        ("aol.com",),
        ("yahoodns.net",),
        Endpoint("imap.aol.com", 993, "ssl"),
        Endpoint("smtp.aol.com", 465, "ssl"),
        False,
        "'Sent'",
        "AOL needs an app password (Account Security).",
    ),
    Provider(
        "fastmail",
        "Fastmail",
        ("fastmail.com", "fastmail.fm"),
        ("messagingengine.com",),
        Endpoint("imap.fastmail.com", 993, "ssl"),
        Endpoint("smtp.fastmail.com", 465, "ssl"),
        None,
        "'Sent'; has \\Sent",
        "Fastmail needs an app password (Settings > Privacy & Security > App passwords).",
    ),
    Provider(
        "zoho",
        "Zoho Mail",
        ("zoho.com", "zohomail.com"),
        ("zoho.com", "zoho.eu"),
        Endpoint("imap.zoho.com", 993, "ssl"),
        Endpoint("smtp.zoho.com", 465, "ssl"),
        True,
        "'Sent'; sends \\Sent on plain LIST",
        "Enable IMAP access in Zoho Mail settings; with two-factor authentication use an "
        "application-specific password.",
    ),
    Provider(
        "gmx",
        "GMX",
        ("gmx.net", "gmx.de", "gmx.at", "gmx.ch", "gmx.com"),
        ("gmx.net",),
        Endpoint("imap.gmx.net", 993, "ssl"),
        Endpoint("mail.gmx.net", 465, "ssl"),
        None,
        "'Gesendet'",
        "Enable 'POP3/IMAP access' in the GMX web mail settings first.",
    ),
    Provider(
        "webde",
        "WEB.DE",
        ("web.de",),
        ("web.de",),
        Endpoint("imap.web.de", 993, "ssl"),
        Endpoint("smtp.web.de", 587, "starttls"),
        None,
        "'Gesendet'",
        "Enable 'POP3/IMAP access' in the WEB.DE web mail settings first.",
    ),
)


def by_domain(domain: str) -> Provider | None:
    """The provider that hosts this mail domain, if known."""
    domain = domain.lower()
    return next((p for p in PROVIDERS if domain in p.domains), None)


def by_mx(mx_host: str) -> Provider | None:
    """The provider whose MX host names end like ``mx_host``, if known."""
    host = mx_host.lower().rstrip(".")
    for provider in PROVIDERS:
        if any(host == s or host.endswith("." + s) for s in provider.mx_suffixes):
            return provider
    return None


def by_host(host: str) -> Provider | None:
    """The provider whose IMAP or SMTP host this is (for hints on login failures)."""
    host = host.lower()
    for provider in PROVIDERS:
        if host in (provider.imap.host, provider.smtp.host):
            return provider
    return None


def by_key(key: str) -> Provider | None:
    """The provider with this key (as saved in config.toml), if any."""
    return next((p for p in PROVIDERS if p.key == key), None)
