"""A throw-away mail system on loopback: real Dovecot, Postfix, gnome-keyring and dnsmasq.

Used by the test suite and by ``scripts/sandbox`` so that a person can try hubsync without a
real account. Everything lives in one temporary directory and listens on 127.0.0.1 only.
"""

from sandbox.system import Sandbox, SandboxUser

__all__ = ["Sandbox", "SandboxUser"]
