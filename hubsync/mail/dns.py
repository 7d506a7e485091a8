"""DNS look-ups through dnspython, optionally against ``HUBSYNC_DNS=HOST:PORT``.

With ``HUBSYNC_DNS`` set, host names are also resolved there before connecting, so tests and
unusual networks can use names that the system resolver does not know.
"""

import ipaddress

from hubsync import environment

DNS_TIMEOUT = 3.0


def resolver(timeout: float = DNS_TIMEOUT):
    """A dnspython resolver (imported lazily: most commands never query DNS)."""
    import dns.resolver

    setting = environment.current().dns
    if setting:
        host, _, port = setting.rpartition(":")
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [host or setting]
        res.port = int(port) if port.isdigit() else 53
    else:
        res = dns.resolver.Resolver()
    res.lifetime = timeout
    res.timeout = timeout
    return res


def address_for(host: str) -> str | None:
    """With HUBSYNC_DNS set, the IPv4 address it gives for ``host``; otherwise None (system)."""
    if not environment.current().dns:
        return None
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    import dns.exception

    try:
        answer = resolver().resolve(host, "A")
    except (dns.exception.DNSException, OSError):
        return None
    return str(answer[0])
