"""WSGI entry point: `flask` finds `app` here; gunicorn runs `wsgi:app`."""

import sys

from fleet import create_app
from fleet.config import UnsafeConfiguration

try:
    app = create_app()
except UnsafeConfiguration as refused:
    # One clear line and a non-zero exit, for the CLI and gunicorn alike (no traceback).
    sys.exit(str(refused))
