"""Views of the home page and the language switch."""

from flask import abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from ..web import safe_next
from . import bp

# Where each role starts; a later feature's page is used once it exists.
HOME_BY_ROLE = {
    "city": ("returns.index",),
    "ministry": ("review.queue", "progress.dashboard"),
    "viewer": ("progress.dashboard",),
    "admin": ("admin.users",),
    "auditor": ("audit.log",),
}


@bp.route("/")
@login_required
def index():
    """Send each role to its first page."""
    from flask import current_app

    for endpoint in HOME_BY_ROLE.get(current_user.role, ()):
        if endpoint in current_app.view_functions:
            return redirect(url_for(endpoint))
    return render_template("main/index.html")


@bp.route("/lang/<code>", methods=["GET", "POST"])
def set_language(code: str):
    """Switch the interface language (zh or en) and go back where the user was."""
    if code not in ("zh", "en"):
        abort(404)
    session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("main.index")))


@bp.route("/favicon.ico")
def favicon():
    """The app's icon, at the address browsers ask for on every page."""
    from flask import current_app, send_from_directory

    return send_from_directory(current_app.static_folder, "favicon.ico",
                               mimetype="image/vnd.microsoft.icon", max_age=86400)
