"""Demo data for the quick start: packages register seeders, ``authority init --demo`` runs them.

A seeder is ``fn(session) -> Iterable[str]``: it adds its demo rows inside the given
session (the caller commits) and returns one human-readable line per thing it seeded
(e.g. "demo citizen: 110101199003074514 / password demo-password-1"). Seeders must be
idempotent: the quick start runs ``init --demo`` every time, so a seeder that finds
its data already present says so and adds nothing. Register at import time::

    from authority import demo

    @demo.register
    def seed_demo_clients(session): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session

Seeder = Callable[[Session], Iterable[str]]

#: The demo department's unified social credit code (GB 32100, check characters right).
#: certs seeds the department and its license types; oidc seeds the OAuth client its
#: systems use to issue licenses. Neither package imports the other, so both read it here.
DEMO_DEPARTMENT_CODE = "11110000MB0DEM0178"

# Filled at import time, keyed by qualified name so that importing a module twice
# (or registering the same function again) never runs a seeder twice.
_SEEDERS: dict[str, Seeder] = {}


def register(fn: Seeder) -> Seeder:
    """Add a demo seeder (usable as a decorator); seeders run in registration order."""
    _SEEDERS[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def seeders() -> list[tuple[str, Seeder]]:
    """The registered seeders, in order, with their qualified names."""
    return list(_SEEDERS.items())


def seed_all(session: Session) -> list[str]:
    """Run every seeder in ``session``; the lines they report, in order."""
    lines: list[str] = []
    for _name, fn in seeders():
        lines.extend(fn(session))
    return lines
