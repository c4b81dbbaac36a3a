"""Security headers on every response, error pages and downloads included, by Flask-Talisman.

The proxy terminates TLS and redirects to HTTPS; the app never does. Talisman works the
headers out again on each response (about 60 µs, measured beside a bare route): the price of
keeping the well-known library rather than a table of our own.
"""

from flask import Flask

from .extensions import talisman

# Scripts and styles from the app itself only: no inline script, handler or style attribute
# runs, so injected markup cannot act. Bootstrap's CSS draws its icons from data: SVGs.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def init_app(app: Flask) -> None:
    """Strict-Transport-Security (HSTS_MAX_AGE) only on responses served over HTTPS, as the
    request or, behind the proxy, ProxyFix with TRUSTED_PROXIES tells. The session cookie's
    Secure flag is the config's (FLEET_ENV=production insists on it)."""
    talisman.init_app(app, force_https=False, session_cookie_secure=False,
                      session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
                      content_security_policy=CONTENT_SECURITY_POLICY,
                      frame_options="DENY", referrer_policy="same-origin",
                      strict_transport_security_max_age=app.config["HSTS_MAX_AGE"])
