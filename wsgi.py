"""WSGI entry point: `flask` finds `app` here; gunicorn runs `wsgi:app`."""

from fleet import create_app

app = create_app()
