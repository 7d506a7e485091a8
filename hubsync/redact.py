"""Keep secrets out of every message, log line and traceback the tool prints."""

_SECRETS: set[str] = set()


def register(secret: str | None) -> None:
    """Remember a secret so that ``scrub`` hides it wherever it would appear."""
    if secret and len(secret) >= 3:
        _SECRETS.add(secret)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ***."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
