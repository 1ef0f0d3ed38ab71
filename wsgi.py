"""WSGI entry point: ``gunicorn wsgi:app``."""

from authority.app import create_app

app = create_app()
