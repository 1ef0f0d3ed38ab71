"""Fixtures shared by the oidc tests (each helper imports its own support module here)."""

from tests.oidc.provider_support import (  # noqa: F401  (provider fixtures)
    browser_client,
    department_client,
    person,
    rp,
)
