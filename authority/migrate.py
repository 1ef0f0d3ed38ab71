"""Alembic, driven from code: every package owns a branch of migrations.

Branches (``branch_labels``) and their folders:

- ``authority``: ``authority/migrations/versions`` (audit log, key store)
- ``oidc``: ``oidc/migrations`` (accounts, clients, tokens, sessions)
- ``certs``: ``certs/migrations`` (catalogue, departments, licenses)

``upgrade(url)`` applies every head. A package's first migration sets
``branch_labels = ("<package>",)`` and ``depends_on = "authority"`` when it needs the
shell's tables.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent

#: Folders holding migration scripts, one per package that owns tables.
VERSION_LOCATIONS = [
    ROOT / "authority" / "migrations" / "versions",
    ROOT / "oidc" / "migrations",
    ROOT / "certs" / "migrations",
]

#: Modules whose import declares tables on authority.db.Base (for autogenerate and checks).
MODEL_MODULES = ["authority.models", "oidc.models", "certs.models"]


def import_models() -> None:
    """Import every module that declares tables, so that Base.metadata is complete."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A package without tables yet is fine; a broken import inside one is not.
            if exc.name != name:
                raise


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "authority" / "migrations"))
    locations = [str(p) for p in VERSION_LOCATIONS if p.is_dir()]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to ``revision`` (default: every branch's head)."""
    command.upgrade(alembic_config(url), revision)
