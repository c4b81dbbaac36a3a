"""Security headers on every response, error pages and downloads included.

The headers Flask-Talisman sent with Fleet's settings, worked out once when the app starts
rather than on every response (Talisman re-read its options and re-joined the policy each
time, which cost more than serving a cached chart). The proxy terminates TLS and redirects
to HTTPS; the app never does.
"""

from flask import Flask, Response, request

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
    """Add the headers to every response; Strict-Transport-Security (HSTS_MAX_AGE) only to
    responses served over HTTPS, as the request or the proxy's X-Forwarded-Proto says."""
    always = (
        ("Permissions-Policy", "browsing-topics=()"),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy",
         "; ".join(f"{name} {value}" for name, value in CONTENT_SECURITY_POLICY.items())),
        ("Referrer-Policy", "same-origin"),
    )
    hsts = f"max-age={app.config['HSTS_MAX_AGE']}; includeSubDomains"

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        for name, value in always:
            headers[name] = value
        if request.is_secure or request.headers.get("X-Forwarded-Proto") == "https":
            headers["Strict-Transport-Security"] = hsts
        return response
