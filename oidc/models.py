"""Every table of the oidc package (imported by authority.migrate.import_models)."""

from oidc import accounts, lockout, sessions, totp  # noqa: F401  (oidc-accounts tables)
