"""Fixtures shared by the oidc tests (each helper imports its own support module here)."""

from tests.oidc.provider_support import browser_client, person, rp  # noqa: F401  (provider fixtures)
