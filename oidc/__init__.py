"""The OpenID provider on Authlib: accounts, login, consent, sessions, tokens."""
