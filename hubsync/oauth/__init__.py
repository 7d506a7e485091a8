"""OAuth2 sign-in for IMAP and SMTP (Gmail, Microsoft 365, any OpenID Connect issuer).

- ``discovery``: an issuer's endpoints from its well-known metadata;
- ``flows``: getting a grant (authorization code + PKCE on a loopback redirect; device flow);
- ``tokens``: the token endpoint (code exchange, refresh) and its errors;
- ``grant``: where an account's tokens live (the keyring) and the access token a session uses;
- ``sasl``: XOAUTH2 and OAUTHBEARER on the wire.
"""
