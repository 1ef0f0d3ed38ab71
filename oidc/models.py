"""Every table of the oidc package (imported by authority.migrate.import_models)."""

# oidc-provider tables (each line binds the name `oidc`; one noqa covers them).
import oidc.clients
import oidc.consents
import oidc.registration
import oidc.subjects
import oidc.tokens  # noqa: F401
from oidc import accounts, lockout, sessions, totp  # noqa: F401  (oidc-accounts tables)
